"""The pieces of the retry path that need no broker: attempt numbers, giving up, pausing during an outage."""

from __future__ import annotations

from postman_sender_email.send_retry_policy import ATTEMPT_HEADER, OutageBackoff, RetryPolicy, attempt_of, gave_up
from postman_sender_email.transports import Outcome
from postman_shared.broker.topology import EMAIL_SEND_RETRY
from postman_shared.messages import RenderedEmail

EMAIL = RenderedEmail(7, 1, 1, "a@example.com", "b@example.com", None, "Hello", "<p>Hi</p>")


def test_a_first_delivery_is_attempt_one_and_the_header_counts_the_rest():
    assert attempt_of({}) == 1
    assert attempt_of({ATTEMPT_HEADER: 3}) == 3
    assert attempt_of({ATTEMPT_HEADER: "not a number"}) == 1
    assert attempt_of({ATTEMPT_HEADER: 0}) == 1


def test_the_next_attempt_is_the_same_message_parked_in_the_wait_queue_with_the_delay_as_its_ttl():
    message = RetryPolicy(max_attempts=5, delay_seconds=30).next_attempt(EMAIL, attempt=2)
    assert (message.routing_key, message.message_id, message.body) == (EMAIL_SEND_RETRY, "7", EMAIL.to_dict())
    assert message.headers == {ATTEMPT_HEADER: 3}
    assert message.expiration_ms == 30_000


def test_only_the_last_allowed_attempt_gives_up():
    policy = RetryPolicy(max_attempts=3)
    assert [policy.gives_up(n) for n in (1, 2, 3, 4)] == [False, False, True, True]


def test_giving_up_keeps_the_transient_code_and_says_how_many_times_it_failed():
    outcome = gave_up(Outcome.unavailable(7, "smtp_unavailable", "451 try later"), attempts=5)
    assert (outcome.status, outcome.error_code, outcome.transient) == ("ERROR", "smtp_unavailable", False)
    assert outcome.reason == "Failed 5 times because the provider was unavailable; the last time: 451 try later"


def test_an_outage_pauses_longer_after_each_failed_batch_up_to_a_bound_and_a_working_batch_resets_it():
    pauses: list[float] = []
    backoff = OutageBackoff(pauses.append, longest=5)
    for _ in range(5):
        backoff.after_batch(provider_unavailable=True)
    backoff.after_batch(provider_unavailable=False)
    backoff.after_batch(provider_unavailable=True)
    assert pauses == [1, 2, 4, 5, 5, 1]

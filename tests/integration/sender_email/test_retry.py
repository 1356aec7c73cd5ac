"""Transient provider failures go to the wait queue and come back; permanent ones, and the last attempt, are ERROR.

The SMTP transport tries a message 3 times on its own (1 + 2 quick retries) before calling it ``smtp_unavailable``;
the fake server defers an address a chosen number of times, so deferring it more than 3 times forces a later attempt.
"""

from __future__ import annotations

import json
from dataclasses import replace

import boto3
from botocore.config import Config
from sqlalchemy import text

from postman_sender_email.send_retry_policy import ATTEMPT_HEADER
from postman_sender_email.transports.ses import SesTransport
from postman_shared.broker.topology import DELIVERY_EVENTS, EMAIL_SEND, EMAIL_SEND_RETRY
from tests.fakes.ses import FakeSes
from tests.fakes.smtp import FakeSmtpServer
from tests.integration.sender_email.support import rendered, wait_for_events, wait_until
from tests.support.inprocess import running

QUICK_TRIES = 3  # SmtpTransport: one try and two quick retries per attempt


def _retry_settings(settings, smtp: FakeSmtpServer, delay: int = 1, max_attempts: int = 5):
    return replace(settings, email_transport="smtp", smtp_host="127.0.0.1", smtp_port=smtp.port,
                   smtp_connections=2, sender_batch_size=25,
                   email_retry_delay_seconds=delay, email_max_attempts=max_attempts)


def _count(channel, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def _recorded(database, message_id: str):
    with database.session() as session:
        return session.execute(
            text("SELECT status, error_code, error_reason FROM email_deliveries WHERE message_id = :m"),
            {"m": message_id},
        ).all()


def test_a_message_deferred_past_the_quick_retries_waits_and_is_sent_on_a_later_attempt(
        settings, amqp_channel, database, publish, campaign_id):
    (email,) = rendered(campaign_id, 1)
    # Attempts 1 and 2 use up 3 deferrals each; attempt 3 is deferred once more, then accepted.
    with FakeSmtpServer(defer={email.to: 2 * QUICK_TRIES + 1}) as smtp, \
            running(_retry_settings(settings, smtp), "campaign", "sender-email"):
        publish([email])
        (event,) = wait_for_events(amqp_channel, 1)
        received = smtp.to(email.to)

    assert (event["recipient_id"], event["status"]) == (email.recipient_id, "SENT")
    assert len(received) == 1
    assert [row.status for row in _recorded(database, email.message_id)] == ["SENT"]
    assert _count(amqp_channel, DELIVERY_EVENTS) == 0, "one event for the message, not one per attempt"
    assert _count(amqp_channel, EMAIL_SEND_RETRY) == 0


def test_a_message_deferred_on_every_attempt_is_one_error_after_the_last_attempt(
        settings, amqp_channel, database, publish, campaign_id):
    (email,) = rendered(campaign_id, 1)
    with FakeSmtpServer(defer={email.to: 100}) as smtp, \
            running(_retry_settings(settings, smtp, max_attempts=3), "campaign", "sender-email"):
        publish([email])
        (event,) = wait_for_events(amqp_channel, 1)
        deferred = 100 - smtp.deferrals_left(email.to)

    assert (event["status"], event["error_code"]) == ("ERROR", "smtp_unavailable")
    assert event["reason"].startswith("Failed 3 times because the provider was unavailable; the last time: 451")
    assert deferred == 3 * QUICK_TRIES, "each of the 3 attempts went to the server"
    ((status, code, reason),) = _recorded(database, email.message_id)
    assert (status, code, reason) == ("ERROR", "smtp_unavailable", event["reason"])
    assert _count(amqp_channel, DELIVERY_EVENTS) == 0, "exactly one event"
    assert _count(amqp_channel, EMAIL_SEND_RETRY) == 0
    assert _count(amqp_channel, EMAIL_SEND) == 0


def test_a_message_waiting_for_its_next_attempt_is_neither_recorded_nor_announced(
        settings, amqp_channel, database, publish, campaign_id):
    (email,) = rendered(campaign_id, 1)
    with FakeSmtpServer(defer={email.to: 100}) as smtp, \
            running(_retry_settings(settings, smtp, delay=3600), "campaign", "sender-email"):
        publish([email])
        wait_until(lambda: _count(amqp_channel, EMAIL_SEND_RETRY) == 1, what="the message in the wait queue")
        wait_until(lambda: _count(amqp_channel, EMAIL_SEND) == 0, what="the first delivery to be acked")

        assert _recorded(database, email.message_id) == []
        assert _count(amqp_channel, DELIVERY_EVENTS) == 0
        # Taking it off the wait queue also keeps it from coming back during a later test.
        method, properties, body = amqp_channel.basic_get(EMAIL_SEND_RETRY, auto_ack=True)

    assert method is not None
    assert properties.message_id == email.message_id
    assert json.loads(body) == email.to_dict()
    assert properties.headers[ATTEMPT_HEADER] == 2
    assert properties.expiration == "3600000"
    assert properties.delivery_mode == 2


def test_a_permanent_refusal_is_an_error_at_once_while_a_deferred_message_of_its_batch_waits(
        settings, amqp_channel, database, publish, campaign_id):
    refused, deferred, accepted = rendered(campaign_id, 3)
    with FakeSmtpServer(refuse={refused.to: "User unknown"}, defer={deferred.to: QUICK_TRIES}) as smtp, \
            running(_retry_settings(settings, smtp), "campaign", "sender-email"):
        publish([refused, deferred, accepted])
        first_attempt = {e["recipient_id"]: e for e in wait_for_events(amqp_channel, 2)}
        (later,) = wait_for_events(amqp_channel, 1)

    # The first batch announces the refusal and the accepted message; the deferred one only after its 2nd attempt.
    assert set(first_attempt) == {refused.recipient_id, accepted.recipient_id}
    assert (first_attempt[refused.recipient_id]["status"], first_attempt[refused.recipient_id]["error_code"]) == (
        "ERROR", "smtp_550")
    assert first_attempt[accepted.recipient_id]["status"] == "SENT"
    assert (later["recipient_id"], later["status"]) == (deferred.recipient_id, "SENT")
    assert [row.error_code for row in _recorded(database, refused.message_id)] == ["smtp_550"]


def test_ses_still_throttling_after_its_retries_is_transient_and_a_rejection_is_permanent(aws_credentials):
    # No botocore retries here: the first throttling reply stands for "still throttling after the retries".
    throttled, rejected = rendered(1, 2)
    with FakeSes(reject={rejected.to}, throttle_first=1) as ses:
        client = boto3.client("sesv2", region_name="ap-southeast-1", endpoint_url=ses.endpoint_url,
                              config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
        transport = SesTransport(client, concurrency=1)
        try:
            (unavailable,) = transport.send_batch([throttled])
            (refusal,) = transport.send_batch([rejected])
        finally:
            transport.close()

    assert (unavailable.error_code, unavailable.transient) == ("ses_unavailable", True)
    assert "TooManyRequestsException" in unavailable.reason
    assert (refusal.error_code, refusal.transient) == ("MessageRejected", False)

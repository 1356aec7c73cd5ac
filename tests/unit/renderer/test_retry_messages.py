"""A retry's messages are new messages to the senders (``<recipient_id>.<job_id>``), and the renderer skips the
recipients stats has an outcome for by merging two ascending streams (SortedIds)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from postman_renderer.dispatch import JobEnvelope, TextEnvelope
from postman_renderer.email_template import EmailMessageTemplate
from postman_renderer.stats_client import SortedIds
from postman_renderer.theme import NO_LINK, EmailLook, ThemedEmail
from postman_shared.broker.topology import SMS_SEND
from postman_shared.messages import RenderedEmail, RenderedSms, RenderedTelegram


@dataclass
class _Recipient:
    id: int
    recipient: str
    params: dict[str, str] = field(default_factory=dict)


def test_a_retry_email_has_the_job_in_its_message_id_and_decodes_with_it():
    email = ThemedEmail(EmailMessageTemplate.parse("Hi {{ name }}", "<p>{{ name }}</p>"), EmailLook("Agency"), NO_LINK)
    first = JobEnvelope(campaign_id=7, job_id=9, email=email, sender="a@agency.gov.sg", reply_to=None)
    retry = JobEnvelope(campaign_id=7, job_id=12, email=email, sender="a@agency.gov.sg", reply_to=None, retry=True)

    original, again = (envelope.message(_Recipient(42, "ann@x.sg", {"name": "Ann"})) for envelope in (first, retry))

    assert (original.message_id, again.message_id) == ("42", "42.12")
    decoded = RenderedEmail.from_dict(again.body)
    assert (decoded.recipient_id, decoded.job_id, decoded.retry, decoded.message_id) == (42, 12, True, "42.12")
    assert again.body == decoded.to_dict()


def test_a_retry_sms_keeps_its_recipient_id_apart_from_its_message_id():
    envelope = TextEnvelope(SMS_SEND, 7, 12, 3, 5, None, lambda values: f"Hi {values['name']}", retry=True)
    message = envelope.message(_Recipient(42, "+6591234567", {"name": "Ann"}))
    decoded = RenderedSms.from_dict(message.body)
    assert (message.message_id, decoded.message_id, decoded.recipient_id) == ("42.12", "42.12", 42)


@pytest.mark.parametrize("kind", [RenderedSms, RenderedTelegram])
def test_older_messages_without_the_flag_are_first_attempts_and_a_bad_flag_is_refused(kind):
    body = {"recipient_id": 42, "campaign_id": 7, "job_id": 9, "user_id": 3, "to": "+6591234567", "body": "Hi",
            "credential_id": 5}
    assert kind.from_dict(body).message_id == "42"
    with pytest.raises(TypeError, match="retry"):
        kind.from_dict({**body, "retry": "yes"})


def test_sorted_ids_answers_membership_in_ascending_order_across_batches():
    pulled = []

    def batches():
        for batch in ([2, 4], [], [7, 9, 10], [15]):
            pulled.append(batch)
            yield batch

    done = SortedIds(batches())
    asked = [1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 15, 16, 20]
    assert [n for n in asked if n in done] == [2, 4, 7, 9, 10, 15]
    assert pulled == [[2, 4], [], [7, 9, 10], [15]]


def test_sorted_ids_reads_no_further_than_it_needs():
    pulled = []

    def batches():
        for batch in ([5, 6], [100, 200]):
            pulled.append(batch)
            yield batch

    done = SortedIds(batches())
    assert 5 in done and pulled == [[5, 6]]
    assert 7 not in done and pulled == [[5, 6], [100, 200]]
    assert 50 not in done and 100 in done

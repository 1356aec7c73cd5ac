"""Priority emails (one-time passwords) on ``email.priority``: their own consumer and connection, never behind a
campaign, sent once, recorded without a campaign, retried within seconds, never announced to stats.

The SMTP transport tries a message 3 times on its own (1 + 2 quick retries); the priority path tries that 3 times.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from email import message_from_bytes, policy

import pytest
from sqlalchemy import text

from postman_shared.broker import OutgoingMessage, Publisher
from postman_shared.broker.topology import DEAD_LETTER_QUEUE, DELIVERY_EVENTS, EMAIL_PRIORITY, EMAIL_SEND
from postman_shared.messages import PriorityEmail
from tests.fakes.smtp import FakeSmtpServer
from tests.integration.sender_email.support import rendered, wait_until
from tests.support.inprocess import running

TRANSPORT_TRIES = 3  # SmtpTransport: one try and two quick retries
PRIORITY_TRIES = 3  # the priority path: one send and two more after short pauses


def _one_time_password(to: str = "officer@agency.gov.sg", **overrides: object) -> PriorityEmail:
    fields: dict[str, object] = dict(
        message_id=f"otp-{uuid.uuid4()}", to=to, sender="Postman <donotreply@mail.postman.gov.sg>",
        subject="Your one-time password", body="<p>Your password is <b>K7P2QX</b>. It expires in 10 minutes.</p>",
    )
    fields.update(overrides)
    return PriorityEmail(**fields)  # type: ignore[arg-type]


@pytest.fixture
def publish_priority(stores) -> Iterator[Callable[..., None]]:
    publisher = Publisher(stores.amqp_url, app_id="test")

    def _publish(*emails: PriorityEmail | dict) -> None:
        publisher.publish([
            OutgoingMessage(EMAIL_PRIORITY, e, str(e.get("message_id")))
            if isinstance(e, dict) else OutgoingMessage(EMAIL_PRIORITY, e.to_dict(), e.message_id)
            for e in emails
        ])

    yield _publish
    publisher.close()


def _smtp_settings(settings, smtp: FakeSmtpServer, connections: int = 2):
    return replace(settings, email_transport="smtp", smtp_host="127.0.0.1", smtp_port=smtp.port,
                   smtp_connections=connections)


def _recorded(database, message_id: str) -> list:
    with database.session() as session:
        return session.execute(
            text("SELECT campaign_id, status, error_code, error_reason FROM email_deliveries WHERE message_id = :m"),
            {"m": message_id},
        ).all()


def _count(channel, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def test_a_priority_email_is_delivered_once_with_its_subject_and_body_and_recorded_without_a_campaign(
        settings, amqp_channel, database, publish_priority):
    otp = _one_time_password()
    with FakeSmtpServer() as smtp, running(_smtp_settings(settings, smtp), "campaign", "sender-email"):
        publish_priority(otp)
        wait_until(lambda: _recorded(database, otp.message_id), what="the priority email recorded")
        received = smtp.to(otp.to)

    (message,) = received
    parsed = message.parsed()
    assert message.mail_from == "donotreply@mail.postman.gov.sg"
    assert parsed["Subject"] == otp.subject
    assert parsed.get_content() == otp.body
    assert parsed["Message-ID"] == f"<{otp.message_id}@mail.postman.gov.sg>"
    assert [(row.campaign_id, row.status) for row in _recorded(database, otp.message_id)] == [(None, "SENT")]
    assert _count(amqp_channel, DELIVERY_EVENTS) == 0, "stats counts campaigns only: no delivery event"


def test_a_redelivered_priority_email_is_not_sent_twice(settings, amqp_channel, database, publish_priority):
    otp = _one_time_password()
    after_it = _one_time_password(to="another.officer@agency.gov.sg")
    with FakeSmtpServer() as smtp, running(_smtp_settings(settings, smtp), "campaign", "sender-email"):
        publish_priority(otp)
        wait_until(lambda: _recorded(database, otp.message_id), what="the first delivery recorded")
        publish_priority(otp, after_it)  # the same message again, as after a crash before the ack
        # One consumer takes the queue in order: once the next message is recorded, the copy has been handled.
        wait_until(lambda: _recorded(database, after_it.message_id), what="the message after the copy recorded")
        received = smtp.to(otp.to)

    assert len(received) == 1
    assert len(_recorded(database, otp.message_id)) == 1


def test_the_priority_path_overtakes_a_campaign_being_sent(
        settings, amqp_channel, database, publish, publish_priority, campaign_id):
    campaign = rendered(campaign_id, 3000)
    otp = _one_time_password()
    with FakeSmtpServer() as smtp:
        smtp.slow_down(0.005)
        publish(campaign)
        # Slices of 500 per connection: a priority email waiting for one of the campaign's connections would arrive
        # after about a thousand campaign messages.
        with running(replace(_smtp_settings(settings, smtp), sender_batch_size=1000), "campaign", "sender-email"):
            wait_until(lambda: len(smtp.messages) >= 20, what="the campaign under way")
            publish_priority(otp)
            wait_until(lambda: smtp.to(otp.to), what="the priority email received")
            campaign_received_before = len(smtp.messages) - 1
        amqp_channel.queue_purge(EMAIL_SEND)  # what the campaign left: no later test should send it

    assert campaign_received_before < 500, (
        f"{campaign_received_before} of {len(campaign)} campaign messages arrived before the one-time password")


def test_a_priority_email_deferred_past_the_transports_retries_is_sent_by_a_quick_retry(
        settings, amqp_channel, database, publish_priority):
    otp = _one_time_password()
    with FakeSmtpServer(defer={otp.to: TRANSPORT_TRIES + 1}) as smtp, \
            running(_smtp_settings(settings, smtp), "campaign", "sender-email"):
        publish_priority(otp)
        wait_until(lambda: _recorded(database, otp.message_id), what="the priority email recorded")
        received = smtp.to(otp.to)

    assert len(received) == 1
    assert [row.status for row in _recorded(database, otp.message_id)] == ["SENT"]


def test_a_priority_email_the_server_keeps_deferring_is_an_error_after_its_last_quick_retry(
        settings, amqp_channel, database, publish_priority):
    otp = _one_time_password()
    deferrals = PRIORITY_TRIES * TRANSPORT_TRIES + 1
    with FakeSmtpServer(defer={otp.to: deferrals}) as smtp, \
            running(_smtp_settings(settings, smtp), "campaign", "sender-email"):
        publish_priority(otp)
        wait_until(lambda: _recorded(database, otp.message_id), what="the priority email recorded")
        deferrals_left = smtp.deferrals_left(otp.to)
        received = smtp.to(otp.to)

    (row,) = _recorded(database, otp.message_id)
    assert (row.campaign_id, row.status, row.error_code) == (None, "ERROR", "smtp_unavailable")
    assert row.error_reason.startswith(f"Failed {PRIORITY_TRIES} times because the provider was unavailable")
    assert deferrals_left == 1, "tried exactly three times, then given up"
    assert received == []
    assert _count(amqp_channel, EMAIL_PRIORITY) == 0, "given up, not requeued"


@pytest.mark.parametrize(
    "broken",
    [
        {"message_id": "otp-no-body", "to": "a@agency.gov.sg", "sender": "x@y", "subject": "s"},
        {"message_id": "x" * 65, "to": "a@agency.gov.sg", "sender": "x@y", "subject": "s", "body": "b"},
        {"message_id": "otp-number", "to": 12345, "sender": "x@y", "subject": "s", "body": "b"},
    ],
    ids=["missing-body", "id-too-long", "address-not-a-string"],
)
def test_a_malformed_priority_email_is_dead_lettered_and_the_rest_of_its_batch_is_sent(
        settings, amqp_channel, database, publish_priority, broken):
    amqp_channel.queue_purge(DEAD_LETTER_QUEUE)
    otp = _one_time_password()
    with FakeSmtpServer() as smtp, running(_smtp_settings(settings, smtp), "campaign", "sender-email"):
        publish_priority(broken, otp)
        wait_until(lambda: _recorded(database, otp.message_id), what="the well-formed email recorded")
        wait_until(lambda: _count(amqp_channel, DEAD_LETTER_QUEUE) == 1,
                   what="the malformed message in the dead-letter queue")
        received = smtp.messages

    assert [m.rcpt_tos for m in received] == [(otp.to,)]
    _method, properties, _body = amqp_channel.basic_get(DEAD_LETTER_QUEUE, auto_ack=True)
    assert properties.message_id == broken["message_id"]


def test_outbox_writes_a_priority_email_as_an_eml_file_named_by_its_message_id(
        settings, amqp_channel, database, publish_priority):
    otp = _one_time_password(subject="您的一次性密码 one-time password")
    outbox_settings = replace(settings, email_transport="outbox")
    with running(outbox_settings, "campaign", "sender-email"):
        publish_priority(otp)
        wait_until(lambda: _recorded(database, otp.message_id), what="the priority email recorded")

    parsed = message_from_bytes((outbox_settings.outbox_dir / f"{otp.message_id}.eml").read_bytes(),
                                policy=policy.default)
    assert parsed["To"] == otp.to
    assert parsed["Subject"] == otp.subject
    assert parsed.get_content() == otp.body

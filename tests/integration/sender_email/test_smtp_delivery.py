"""sender-email with the SMTP transport, against a real SMTP server started by the test."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import text

from tests.fakes.smtp import FakeSmtpServer
from tests.integration.sender_email.support import rendered, wait_for_events, wait_until
from tests.support.inprocess import running
from tests.support.stores import free_port


def _smtp_settings(settings, smtp: FakeSmtpServer, connections: int = 3):
    return replace(settings, email_transport="smtp", smtp_host="127.0.0.1", smtp_port=smtp.port,
                   smtp_connections=connections, sender_batch_size=25)


def test_every_message_arrives_once_with_its_own_content_over_a_few_reused_connections(
        settings, amqp_channel, database, publish, campaign_id):
    emails = rendered(campaign_id, 120)
    with FakeSmtpServer() as smtp, running(_smtp_settings(settings, smtp, connections=3), "campaign", "sender-email"):
        publish(emails)
        events = wait_for_events(amqp_channel, len(emails))
        received = smtp.messages

    assert sorted(m.rcpt_tos[0] for m in received) == sorted(e.to for e in emails)
    for email in emails:
        (message,) = [m for m in received if m.rcpt_tos == (email.to,)]
        parsed = message.parsed()
        assert message.mail_from == "donotreply@mail.postman.gov.sg"
        assert parsed["Subject"] == email.subject
        assert parsed.get_content() == email.body
    assert len({m.peer for m in received}) <= 3, "messages share a few long-lived connections"
    assert {e["recipient_id"] for e in events} == {e.recipient_id for e in emails}
    assert {e["status"] for e in events} == {"SENT"}
    with database.session() as session:
        recorded = session.execute(
            text("SELECT count(*) FROM email_deliveries WHERE campaign_id = :c AND status = 'SENT'"),
            {"c": campaign_id},
        ).scalar_one()
    assert recorded == len(emails)


def test_recipient_refused_with_550_becomes_an_error_event_with_the_code_and_the_reason(
        settings, amqp_channel, database, publish, campaign_id):
    emails = rendered(campaign_id, 3)
    refused = emails[1]
    with FakeSmtpServer(refuse={refused.to: "Recipient address rejected: User unknown"}) as smtp, \
            running(_smtp_settings(settings, smtp), "campaign", "sender-email"):
        publish(emails)
        events = {e["recipient_id"]: e for e in wait_for_events(amqp_channel, 3)}
        received = smtp.messages

    assert events[refused.recipient_id]["status"] == "ERROR"
    assert events[refused.recipient_id]["error_code"] == "smtp_550"
    assert "User unknown" in events[refused.recipient_id]["reason"]
    assert [events[e.recipient_id]["status"] for e in (emails[0], emails[2])] == ["SENT", "SENT"]
    assert sorted(m.rcpt_tos[0] for m in received) == sorted([emails[0].to, emails[2].to])
    with database.session() as session:
        row = session.execute(
            text("SELECT status, error_code, error_reason FROM email_deliveries WHERE message_id = :m"),
            {"m": refused.message_id},
        ).one()
    assert (row.status, row.error_code) == ("ERROR", "smtp_550")
    assert "User unknown" in row.error_reason


def test_a_recipient_deferred_once_is_sent_by_the_transports_own_quick_retry(
        settings, amqp_channel, publish, campaign_id):
    (email,) = rendered(campaign_id, 1)
    with FakeSmtpServer(defer={email.to: 1}) as smtp, \
            running(_smtp_settings(settings, smtp), "campaign", "sender-email"):
        publish([email])
        (event,) = wait_for_events(amqp_channel, 1)
        received = smtp.to(email.to)

    assert event["status"] == "SENT"
    assert len(received) == 1


def test_a_redelivered_message_is_not_sent_again_but_its_event_is_published_again(
        settings, amqp_channel, database, publish, campaign_id):
    (email,) = rendered(campaign_id, 1)
    with FakeSmtpServer() as smtp, running(_smtp_settings(settings, smtp), "campaign", "sender-email"):
        publish([email])
        (first,) = wait_for_events(amqp_channel, 1)
        publish([email])  # the same message again, as after a crash before the ack
        (second,) = wait_for_events(amqp_channel, 1)
        received = smtp.to(email.to)

    assert len(received) == 1
    assert first == second
    assert second["status"] == "SENT"


def test_a_message_already_recorded_is_only_announced(settings, amqp_channel, database, publish, campaign_id):
    (email,) = rendered(campaign_id, 1)
    with database.unit_of_work() as session:
        session.execute(
            text("INSERT INTO email_deliveries (message_id, campaign_id, status, error_code, error_reason) "
                 "VALUES (:m, :c, 'ERROR', 'smtp_550', 'User unknown')"),
            {"m": email.message_id, "c": campaign_id},
        )
    with FakeSmtpServer() as smtp, running(_smtp_settings(settings, smtp), "campaign", "sender-email"):
        publish([email])
        (event,) = wait_for_events(amqp_channel, 1)
        received = smtp.messages

    assert received == []
    assert (event["status"], event["error_code"], event["reason"]) == ("ERROR", "smtp_550", "User unknown")


def test_a_malformed_message_is_dead_lettered_and_the_rest_of_its_batch_is_sent(
        settings, amqp_channel, stores, publish, campaign_id):
    from postman_shared.broker import OutgoingMessage, Publisher
    from postman_shared.broker.topology import DEAD_LETTER_QUEUE, EMAIL_SEND

    amqp_channel.queue_purge(DEAD_LETTER_QUEUE)
    (email,) = rendered(campaign_id, 1)
    publisher = Publisher(stores.amqp_url, app_id="test")
    try:
        publisher.publish([OutgoingMessage(EMAIL_SEND, {"recipient_id": "not a number"}, "broken-1")])
    finally:
        publisher.close()
    with FakeSmtpServer() as smtp, running(_smtp_settings(settings, smtp), "campaign", "sender-email"):
        publish([email])
        (event,) = wait_for_events(amqp_channel, 1)
        wait_until(lambda: amqp_channel.queue_declare(DEAD_LETTER_QUEUE, passive=True).method.message_count == 1,
                   what="the malformed message in the dead-letter queue")

    assert event["recipient_id"] == email.recipient_id
    method, properties, _body = amqp_channel.basic_get(DEAD_LETTER_QUEUE, auto_ack=True)
    assert properties.message_id == "broken-1"


def test_an_address_smtp_cannot_carry_is_an_error_and_the_rest_of_the_batch_is_sent(
        settings, amqp_channel, publish, campaign_id):
    emails = rendered(campaign_id, 2)
    emails[0] = replace(emails[0], to="用户@例子.广告")
    with FakeSmtpServer() as smtp, running(_smtp_settings(settings, smtp, connections=1), "campaign", "sender-email"):
        publish(emails)
        events = {e["recipient_id"]: e for e in wait_for_events(amqp_channel, 2)}
        received = smtp.messages

    assert (events[emails[0].recipient_id]["status"], events[emails[0].recipient_id]["error_code"]) == (
        "ERROR", "invalid_recipient")
    assert events[emails[1].recipient_id]["status"] == "SENT"
    assert [m.rcpt_tos for m in received] == [(emails[1].to,)]


def test_an_unreachable_server_makes_the_message_an_smtp_unavailable_error_after_its_last_attempt(
        settings, amqp_channel, publish, campaign_id):
    (email,) = rendered(campaign_id, 1)
    nobody_listening = replace(settings, email_transport="smtp", smtp_host="127.0.0.1", smtp_port=free_port(),
                               email_retry_delay_seconds=1, email_max_attempts=2)
    with running(nobody_listening, "campaign", "sender-email"):
        publish([email])
        (event,) = wait_for_events(amqp_channel, 1)

    assert (event["status"], event["error_code"]) == ("ERROR", "smtp_unavailable")
    assert event["reason"].startswith("Failed 2 times because the provider was unavailable; the last time: ")

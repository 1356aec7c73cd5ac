"""sender-email with the SES transport (real boto3 against a local SESv2 endpoint) and the outbox transport."""

from __future__ import annotations

from dataclasses import replace
from email import message_from_bytes, policy

from tests.fakes.ses import FakeSes
from tests.integration.sender_email.support import rendered, wait_for_events
from tests.support.inprocess import running


def _ses_settings(settings, ses: FakeSes, configuration_set: str = ""):
    return replace(settings, email_transport="ses", ses_endpoint_url=ses.endpoint_url, ses_region="ap-southeast-1",
                   ses_configuration_set=configuration_set)


def test_ses_receives_each_message_as_raw_mime_and_its_message_id_is_recorded(
        settings, amqp_channel, database, publish, campaign_id, aws_credentials):
    from sqlalchemy import text

    emails = rendered(campaign_id, 10)
    with FakeSes() as ses, running(_ses_settings(settings, ses, "postman-events"), "campaign", "sender-email"):
        publish(emails)
        events = wait_for_events(amqp_channel, len(emails))
        sent = list(ses.sent)

    assert {e["status"] for e in events} == {"SENT"}
    assert sorted(r.to for r in sent) == sorted((e.to,) for e in emails)
    for email in emails:
        (request,) = [r for r in sent if r.to == (email.to,)]
        assert request.configuration_set == "postman-events"
        assert request.from_address == "Postman Test <donotreply@mail.postman.gov.sg>"
        assert request.parsed()["Subject"] == email.subject
        assert request.parsed().get_content() == email.body
    with database.session() as session:
        recorded = dict(session.execute(
            text("SELECT message_id, provider_message_id FROM email_deliveries WHERE campaign_id = :c"),
            {"c": campaign_id},
        ).all())
    assert sorted(recorded.values()) == sorted(r.message_id for r in sent)


def test_an_address_ses_rejects_becomes_an_error_event_with_the_ses_code(
        settings, amqp_channel, publish, campaign_id, aws_credentials):
    emails = rendered(campaign_id, 2)
    with FakeSes(reject={emails[0].to}) as ses, running(_ses_settings(settings, ses), "campaign", "sender-email"):
        publish(emails)
        events = {e["recipient_id"]: e for e in wait_for_events(amqp_channel, 2)}

    rejected = events[emails[0].recipient_id]
    assert (rejected["status"], rejected["error_code"]) == ("ERROR", "MessageRejected")
    assert "not verified" in rejected["reason"]
    assert events[emails[1].recipient_id]["status"] == "SENT"


def test_a_throttled_send_is_retried_and_then_sent(settings, amqp_channel, publish, campaign_id, aws_credentials):
    (email,) = rendered(campaign_id, 1)
    with FakeSes(throttle_first=1) as ses, running(_ses_settings(settings, ses), "campaign", "sender-email"):
        publish([email])
        (event,) = wait_for_events(amqp_channel, 1)
        sent = list(ses.sent)

    assert event["status"] == "SENT"
    assert len(sent) == 1
    assert ses.throttle_remaining == 0


def test_outbox_writes_one_parseable_eml_file_per_message(settings, amqp_channel, publish, campaign_id):
    emails = rendered(campaign_id, 5, subject="您的预约 appointment")
    outbox_settings = replace(settings, email_transport="outbox")
    with running(outbox_settings, "campaign", "sender-email"):
        publish(emails)
        events = wait_for_events(amqp_channel, len(emails))

    assert {e["status"] for e in events} == {"SENT"}
    files = sorted(p.name for p in outbox_settings.outbox_dir.iterdir())
    assert files == sorted(f"{e.campaign_id}-{e.recipient_id}.eml" for e in emails)
    for email in emails:
        path = outbox_settings.outbox_dir / f"{email.campaign_id}-{email.recipient_id}.eml"
        parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert parsed["To"] == email.to
        assert parsed["Subject"] == "您的预约 appointment"
        assert parsed.get_content() == email.body

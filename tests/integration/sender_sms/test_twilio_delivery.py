"""sender-sms end to end over the real queues and database, with the official twilio client talking to a local
server that speaks Twilio's wire format; campaign runs too, for the sealed credential."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

from sqlalchemy import text

from postman_shared.broker.topology import DELIVERY_EVENTS
from tests.fakes.twilio import FakeTwilio
from tests.integration.sender_email.support import wait_for_events
from tests.integration.sender_sms.conftest import rendered_sms, store_credential
from tests.support.inprocess import running


def _fake(credential, **failures) -> FakeTwilio:
    return FakeTwilio(api_key=credential.api_key, api_secret=credential.api_secret, **failures)


def _running(sms_settings, twilio: FakeTwilio):
    return running(replace(sms_settings, twilio_api_base=twilio.base_url), "campaign", "sender-sms")


def _recorded(database, campaign_id: int) -> dict[str, tuple]:
    with database.session() as session:
        rows = session.execute(text("SELECT message_id, status, error_code, provider_message_id FROM sms_deliveries "
                                    "WHERE campaign_id = :c"), {"c": campaign_id}).all()
    return {row.message_id: (row.status, row.error_code, row.provider_message_id) for row in rows}


def test_every_message_reaches_twilio_once_from_the_users_own_account(
        sms_settings, amqp_channel, database, publish, campaign_id, twilio_credential):
    messages = rendered_sms(campaign_id, twilio_credential, 12)
    with _fake(twilio_credential) as twilio, _running(sms_settings, twilio):
        publish(messages)
        events = wait_for_events(amqp_channel, len(messages))
        sent = twilio.sent

    assert sorted(e["recipient_id"] for e in events) == sorted(m.recipient_id for m in messages)
    assert {(e["status"], e["kind"]) for e in events} == {("SENT", "delivery")}
    assert sorted((r.to, r.body) for r in sent) == sorted((m.to, m.body) for m in messages)
    assert {(r.account_sid, r.username, r.messaging_service_sid) for r in sent} == {
        (twilio_credential.account_sid, twilio_credential.api_key, twilio_credential.messaging_service_sid)}
    recorded = _recorded(database, campaign_id)
    assert {status for status, _, _ in recorded.values()} == {"SENT"}
    assert all(sid.startswith("SM") and len(sid) == 34 for _, _, sid in recorded.values())


def test_an_invalid_number_is_one_error_with_twilios_code_and_is_not_tried_again(
        sms_settings, amqp_channel, database, publish, campaign_id, twilio_credential):
    bad, good = rendered_sms(campaign_id, twilio_credential, 2)
    with _fake(twilio_credential, invalid={bad.to}) as twilio, _running(sms_settings, twilio):
        publish([bad, good])
        events = {e["recipient_id"]: e for e in wait_for_events(amqp_channel, 2)}
        received = list(twilio.received)

    refused = events[bad.recipient_id]
    assert (refused["status"], refused["error_code"]) == ("ERROR", "twilio_21211")
    assert "is not a valid phone number" in refused["reason"]
    assert events[good.recipient_id]["status"] == "SENT"
    assert [r.to for r in received].count(bad.to) == 1
    assert _recorded(database, campaign_id)[bad.message_id][:2] == ("ERROR", "twilio_21211")


def test_a_throttled_message_is_tried_again_and_sent_exactly_once(
        sms_settings, amqp_channel, database, publish, campaign_id, twilio_credential):
    (message,) = rendered_sms(campaign_id, twilio_credential, 1)
    with _fake(twilio_credential, throttle_first=1) as twilio, _running(sms_settings, twilio):
        publish([message])
        (event,) = wait_for_events(amqp_channel, 1)
        received = list(twilio.received)

    assert event["status"] == "SENT"
    assert [r.answered for r in received] == [429, 201]
    assert len(_recorded(database, campaign_id)) == 1
    assert amqp_channel.basic_get(DELIVERY_EVENTS, auto_ack=True)[0] is None


def test_twilio_failing_on_every_try_records_twilio_unavailable_after_three_tries(
        sms_settings, amqp_channel, database, publish, campaign_id, twilio_credential):
    (message,) = rendered_sms(campaign_id, twilio_credential, 1)
    with _fake(twilio_credential, unavailable_first=3) as twilio, _running(sms_settings, twilio):
        publish([message])
        (event,) = wait_for_events(amqp_channel, 1)
        received = list(twilio.received)

    assert (event["status"], event["error_code"]) == ("ERROR", "twilio_unavailable")
    assert "3 tries" in event["reason"]
    assert [r.answered for r in received] == [503, 503, 503]


def test_a_redelivered_message_already_recorded_is_announced_again_but_not_sent_again(
        sms_settings, amqp_channel, database, publish, campaign_id, twilio_credential):
    (message,) = rendered_sms(campaign_id, twilio_credential, 1)
    with _fake(twilio_credential) as twilio, _running(sms_settings, twilio):
        publish([message])
        (first,) = wait_for_events(amqp_channel, 1)
        publish([message])
        (again,) = wait_for_events(amqp_channel, 1)
        sent = twilio.sent

    assert first == again
    assert len(sent) == 1


def test_a_message_naming_a_missing_or_another_users_credential_is_an_error_and_never_reaches_twilio(
        sms_settings, amqp_channel, database, publish, campaign_id, twilio_credential):
    others = store_credential(database, sms_settings, twilio_credential.user_id + 1,
                              json.dumps({"account_sid": "AC1", "api_key": "SK1", "api_secret": "s",
                                          "messaging_service_sid": "MG1"}).encode())
    missing, not_theirs = rendered_sms(campaign_id, twilio_credential, 2)
    missing = replace(missing, credential_id=2**62)
    not_theirs = replace(not_theirs, credential_id=others)
    with _fake(twilio_credential) as twilio, _running(sms_settings, twilio):
        publish([missing, not_theirs])
        events = {e["recipient_id"]: e for e in wait_for_events(amqp_channel, 2)}
        received = list(twilio.received)

    assert (events[missing.recipient_id]["status"], events[missing.recipient_id]["error_code"]) == \
        ("ERROR", "credential_not_found")
    assert (events[not_theirs.recipient_id]["status"], events[not_theirs.recipient_id]["error_code"]) == \
        ("ERROR", "invalid_credential")
    assert received == []


def test_the_twilio_secret_is_never_logged(
        sms_settings, amqp_channel, publish, campaign_id, twilio_credential, capfd):
    bad, good = rendered_sms(campaign_id, twilio_credential, 2)
    with _fake(twilio_credential, invalid={bad.to}, throttle_first=1) as twilio, \
            _running(replace(sms_settings, log_level="DEBUG"), twilio):
        publish([bad, good])
        wait_for_events(amqp_channel, 2)

    logged = "".join(capfd.readouterr())
    assert "batch delivered" in logged
    secret = twilio_credential.api_secret
    basic = base64.b64encode(f"{twilio_credential.api_key}:{secret}".encode()).decode()
    assert secret not in logged
    assert basic not in logged

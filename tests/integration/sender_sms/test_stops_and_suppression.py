"""What sender-sms never hands to Twilio, over the real queues and database with the official twilio client and the
local Twilio fake: a number that replied STOP (for that owner), a message of a stopped job (even one already waiting
for its slot), and a retry's message to a number it already sent to."""

from __future__ import annotations

import time
from dataclasses import replace

from sqlalchemy import text, update

from postman_campaign.models import Campaign, Job
from tests.fakes.twilio import FakeTwilio
from tests.integration.sender_email.support import wait_for_events
from tests.integration.sender_sms.conftest import rendered_sms
from tests.support.inprocess import running


def _job(database, owner: int, status: str = "SENDING") -> int:
    with database.unit_of_work() as session:
        campaign = Campaign(user_id=owner, name="SMS", type="SMS", recipient_keys=[])
        session.add(campaign)
        session.flush()
        job = Job(campaign_id=campaign.id, status=status)
        session.add(job)
        session.flush()
        return job.id


def _running(sms_settings, twilio: FakeTwilio):
    return running(replace(sms_settings, twilio_api_base=twilio.base_url), "campaign", "sender-sms")


def _fake(credential, **options) -> FakeTwilio:
    return FakeTwilio(api_key=credential.api_key, api_secret=credential.api_secret, **options)


def test_a_number_that_replied_stop_is_unsubscribed_and_skipped_by_the_owners_later_campaigns_only(
        sms_settings, amqp_channel, database, publish, campaign_id, twilio_credential):
    stopping, fine = rendered_sms(campaign_id, twilio_credential, 2)
    with _fake(twilio_credential, stopped={stopping.to}) as twilio, _running(sms_settings, twilio):
        publish([stopping, fine])
        first = {e["recipient_id"]: e for e in wait_for_events(amqp_channel, 2)}
        (later,) = rendered_sms(campaign_id + 1, twilio_credential, 1, to=stopping.to)
        publish([later])
        (skipped,) = wait_for_events(amqp_channel, 1)
        calls = [r.to for r in twilio.received]

    assert (first[stopping.recipient_id]["status"], first[stopping.recipient_id]["error_code"]) == (
        "UNSUBSCRIBED", "sms_stop")
    assert first[fine.recipient_id]["status"] == "SENT"
    assert (skipped["status"], skipped["error_code"]) == ("UNSUBSCRIBED", "sms_stop")
    assert "replied STOP" in skipped["reason"]
    assert calls.count(stopping.to) == 1  # the later campaign's message never reached Twilio
    with database.session() as session:
        owners = session.execute(text("SELECT user_id, reason FROM suppressions WHERE channel = 'SMS' AND "
                                      "recipient = :r AND user_id = :u"),
                                 {"r": stopping.to, "u": twilio_credential.user_id}).all()
    assert [(row.user_id, row.reason) for row in owners] == [(twilio_credential.user_id, "sms_stop")]


def test_messages_of_a_stopped_job_are_withheld_unsent_and_unannounced(
        sms_settings, amqp_channel, database, publish, campaign_id, twilio_credential):
    stopped_job = _job(database, twilio_credential.user_id, status="STOPPED")
    live_job = _job(database, twilio_credential.user_id)
    withheld = rendered_sms(campaign_id, twilio_credential, 3, job_id=stopped_job)
    (live,) = rendered_sms(campaign_id + 1, twilio_credential, 1, job_id=live_job)
    with _fake(twilio_credential) as twilio, _running(sms_settings, twilio):
        publish([*withheld, live])
        (event,) = wait_for_events(amqp_channel, 1)
        time.sleep(1)
        calls = [r.to for r in twilio.received]
        extra = amqp_channel.basic_get("delivery.events", auto_ack=True)[0]

    assert (event["recipient_id"], event["status"]) == (live.recipient_id, "SENT")
    assert calls == [live.to] and extra is None
    with database.session() as session:
        recorded = session.execute(text("SELECT count(*) FROM sms_deliveries WHERE campaign_id = :c"),
                                   {"c": campaign_id}).scalar_one()
    assert recorded == 0


def test_a_stop_reaches_messages_already_waiting_for_their_slot_within_about_a_second(
        sms_settings, amqp_channel, database, publish, campaign_id, twilio_credential):
    job = _job(database, twilio_credential.user_id)
    messages = rendered_sms(campaign_id, twilio_credential, 10, job_id=job, rate=2)
    with _fake(twilio_credential) as twilio, _running(sms_settings, twilio):
        publish(messages)
        deadline = time.monotonic() + 10
        while len(twilio.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        with database.unit_of_work() as session:
            session.execute(update(Job).where(Job.id == job).values(status="STOPPED"))
        stopped_at = len(twilio.received)
        time.sleep(2.5)  # at 2 a second, five more would have gone without the stop
        after = len(twilio.received)
        events = wait_for_events(amqp_channel, after)

    assert after - stopped_at <= 2  # at most what was already past its check when the stop was seen
    assert after < len(messages)
    assert {e["status"] for e in events} == {"SENT"} and len(events) == after


def test_a_retrys_message_to_a_number_already_sent_to_is_announced_not_sent_again(
        sms_settings, amqp_channel, database, publish, campaign_id, twilio_credential):
    (first,) = rendered_sms(campaign_id, twilio_credential, 1)
    (retried,) = rendered_sms(campaign_id, twilio_credential, 1, job_id=campaign_id + 1, retry=True)
    with _fake(twilio_credential) as twilio, _running(sms_settings, twilio):
        publish([first])
        wait_for_events(amqp_channel, 1)
        publish([retried])
        (again,) = wait_for_events(amqp_channel, 1)
        calls = list(twilio.received)

    assert retried.message_id != first.message_id
    assert (again["recipient_id"], again["job_id"], again["status"]) == (first.recipient_id, campaign_id + 1, "SENT")
    assert len(calls) == 1


def test_numbers_on_the_owners_suppression_list_are_recorded_blacklisted_and_never_reach_twilio(
        sms_settings, amqp_channel, database, publish, campaign_id, twilio_credential):
    messages = rendered_sms(campaign_id, twilio_credential, 20)
    manual = messages[::4]
    with database.unit_of_work() as session:
        for message in manual:
            session.execute(text("INSERT INTO suppressions (channel, recipient, user_id, reason, created_by) "
                                 "VALUES ('SMS', :r, :u, 'manual', 'support')"),
                            {"r": message.to, "u": twilio_credential.user_id})
    with _fake(twilio_credential) as twilio, _running(sms_settings, twilio):
        publish(messages)
        events = {e["recipient_id"]: e for e in wait_for_events(amqp_channel, len(messages))}
        calls = [r.to for r in twilio.received]

    assert {events[m.recipient_id]["status"] for m in manual} == {"BLACKLISTED"}
    assert {events[m.recipient_id]["error_code"] for m in manual} == {"manual"}
    assert sorted(calls) == sorted(m.to for m in messages if m not in manual)

"""Managing campaigns through the campaign service: rename, delete a draft (with everything it owns), duplicate,
clear an upload's error, the Scheduled list filter, the test email, and the refusals of retry."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from postman_campaign.models import Campaign, EmailTemplate, Job, Recipient, SmsTemplate, Upload
from postman_shared.broker.topology import EMAIL_TEST
from postman_shared.grpc.errors import ServiceError
from postman_shared.timestamps import to_timestamp, utcnow
from tests.integration.campaign.support import CampaignApi, wait_until
from tests.support.inprocess import running


def _error(call, *args, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args, **kwargs)
    return caught.value


def _count(database, model, campaign_id) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(model.campaign_id == campaign_id)) or 0


def test_rename_changes_only_the_name_and_checks_it(settings):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create("Old name")
        renamed = api.call("UpdateCampaign", campaign_id=campaign_id, name="  New name ")
        unchanged = api.call("UpdateCampaign", campaign_id=campaign_id)
        empty = _error(api.call, "UpdateCampaign", campaign_id=campaign_id, name="  ")
        too_long = _error(api.call, "UpdateCampaign", campaign_id=campaign_id, name="x" * 256)
        intruder = _error(CampaignApi(settings).call, "UpdateCampaign", campaign_id=campaign_id, name="Mine")
        fetched = api.get(campaign_id)
    assert (renamed.id, renamed.name, unchanged.name, fetched.name) == (campaign_id, "New name", "New name",
                                                                        "New name")
    assert empty.code == "api_validation" and "empty" in empty.message
    assert too_long.code == "api_validation" and "at most 255" in too_long.message
    assert intruder.code == "not_found"


def test_deleting_a_draft_removes_its_template_uploads_and_recipients(settings, database):
    with running(settings, "auth", "renderer", "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        kept = api.create("Another draft of the same user")
        for each in (campaign_id, kept):
            api.save_template(each)
            api.upload(each, "email_basic.csv")
        before = [_count(database, model, campaign_id) for model in (EmailTemplate, Upload, Recipient)]
        intruder = _error(CampaignApi(settings).call, "DeleteCampaign", campaign_id=campaign_id)
        assert intruder.code == "not_found" and _count(database, Recipient, campaign_id) == 5

        deleted = api.call("DeleteCampaign", campaign_id=campaign_id)
        gone = _error(api.get, campaign_id)
        again = _error(api.call, "DeleteCampaign", campaign_id=campaign_id)
        other = api.get(kept)
    assert before == [1, 1, 5]
    assert deleted.campaign_id == campaign_id and gone.code == "not_found" and again.code == "not_found"
    assert [_count(database, model, campaign_id) for model in (EmailTemplate, Upload, Recipient, Job)] == [0, 0, 0, 0]
    with database.session() as session:
        assert session.get(Campaign, campaign_id) is None
    assert other.num_recipients == 5 and _count(database, Recipient, kept) == 5


@pytest.mark.parametrize("status, words", [("READY", "cancel the scheduled send"), ("LOGGED", "has been sent"),
                                           ("SENDING", "has been sent")])
def test_a_sent_or_scheduled_campaign_cannot_be_deleted(settings, database, status, words):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        with database.unit_of_work() as session:
            session.add(Job(campaign_id=campaign_id, status=status,
                            scheduled_at=utcnow() + timedelta(hours=1) if status == "READY" else None))
        error = _error(api.call, "DeleteCampaign", campaign_id=campaign_id)
        still = api.get(campaign_id)
    assert (error.code, error.http_status) == ("already_sent", 403) and words in error.message
    assert still.id == campaign_id and [j.status for j in still.jobs] == [status]


def test_duplicate_copies_the_campaign_and_its_template_but_not_its_recipients(settings):
    with running(settings, "auth", "renderer", "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create("Flu jabs")
        api.save_template(campaign_id, subject="Hello {{ name }}", reply_to="help@agency.gov.sg", show_logo=False)
        api.upload(campaign_id, "email_basic.csv")
        api.call("SendCampaign", campaign_id=campaign_id, scheduled_at=to_timestamp(utcnow() + timedelta(hours=1)))
        named = api.call("DuplicateCampaign", campaign_id=campaign_id, name="Flu jabs, again", channel="EMAIL")
        default = api.call("DuplicateCampaign", campaign_id=campaign_id)
        wrong_channel = _error(api.call, "DuplicateCampaign", campaign_id=campaign_id, channel="SMS")
        intruder = _error(CampaignApi(settings).call, "DuplicateCampaign", campaign_id=campaign_id)
        original = api.get(campaign_id)
    assert (named.name, default.name) == ("Flu jabs, again", "Copy of Flu jabs")
    for copy in (named, default):
        assert copy.id not in (campaign_id,) and copy.type == "EMAIL" and copy.user_id == api.user_id
        assert copy.email_template.subject == original.email_template.subject == "Hello {{ name }}"
        assert copy.email_template.body == original.email_template.body
        assert (copy.email_template.reply_to, list(copy.email_template.params)) == (
            "help@agency.gov.sg", list(original.email_template.params))
        assert copy.email_template.show_logo is original.email_template.show_logo is False
        assert (copy.num_recipients, copy.csv_filename, list(copy.jobs), copy.valid) == (0, "", [], False)
    assert named.id != default.id
    assert wrong_channel.code == "invalid_parameters" and intruder.code == "not_found"


def test_duplicating_an_sms_campaign_keeps_its_segments_and_leaves_its_credential(settings, database):
    with running(settings, "auth", "renderer", "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create("Clinic SMS", channel="SMS")
        api.call("UpdateSmsTemplate", campaign_id=campaign_id, body="Dear {{ name }}, see you at 10am")
        copy = api.call("DuplicateCampaign", campaign_id=campaign_id, name="Clinic SMS 2")
    with database.session() as session:
        source, copied = (session.get(SmsTemplate, c) for c in (campaign_id, copy.id))
        assert (copied.body, copied.params, copied.segments, copied.encoding) == (
            source.body, source.params, source.segments, source.encoding)
    assert copy.type == "SMS" and copy.credential_id == 0 and copy.sms_template.segments == 1


def test_clearing_an_upload_error_keeps_the_committed_list(settings):
    with running(settings, "auth", "renderer", "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        api.upload(campaign_id, "email_basic.csv")
        failed = api.upload(campaign_id, "bad_ragged_row.csv")
        api.call("ClearUploadError", campaign_id=campaign_id, channel="EMAIL")
        cleared = api.status(campaign_id)
        wrong_channel = _error(api.call, "ClearUploadError", campaign_id=campaign_id, channel="SMS")
        intruder = _error(CampaignApi(settings).call, "ClearUploadError", campaign_id=campaign_id)
    assert "line 3" in failed.csv_error and failed.num_recipients == 5
    assert (cleared.csv_error, cleared.temp_csv_filename, cleared.csv_filename, cleared.num_recipients) == (
        "", "", "email_basic.csv", 5)
    assert wrong_channel.code == "invalid_parameters" and intruder.code == "not_found"


def test_the_list_tells_scheduled_campaigns_from_sending_ones(settings, database):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        draft, scheduled, sending, sent = (api.create(name) for name in ("Draft", "Scheduled", "Sending", "Sent"))
        with database.unit_of_work() as session:
            session.add(Job(campaign_id=scheduled, status="READY", scheduled_at=utcnow() + timedelta(days=2)))
            session.add(Job(campaign_id=sending, status="ENQUEUED"))
            session.add(Job(campaign_id=sent, status="LOGGED", sent_at=utcnow()))

        def ids(**query):
            return [c.id for c in api.call("ListCampaigns", **query).campaigns]

        assert ids(status="Scheduled") == [scheduled]
        assert ids(status="scheduled") == [scheduled]
        assert ids(status="Sending") == [sending]
        assert ids(status="Draft") == [draft]
        assert ids(status="Sent") == [sent]
        listed = {c.id: c for c in api.call("ListCampaigns").campaigns}
    assert listed[scheduled].jobs[0].scheduled_at.seconds > 0 and not listed[sending].jobs[0].HasField("scheduled_at")


def _test_emails(channel) -> list[dict]:
    emails = []
    while True:
        method, _properties, body = channel.basic_get(EMAIL_TEST, auto_ack=True)
        if method is None:
            return emails
        emails.append(json.loads(body))


def test_the_test_email_is_the_template_rendered_with_the_first_recipient(settings, amqp_channel):
    with running(settings, "auth", "renderer", "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        no_template = _error(api.call, "SendTestEmail", campaign_id=campaign_id, recipient="me@agency.gov.sg")
        api.save_template(campaign_id, subject="Hi {{ name }}", body="<p>At {{ appointment }}</p>",
                          reply_to="help@agency.gov.sg")
        before_list = api.call("SendTestEmail", campaign_id=campaign_id, recipient=" Me@Agency.gov.sg ")
        api.upload(campaign_id, "email_basic.csv")
        with_list = api.call("SendTestEmail", campaign_id=campaign_id, recipient="me@agency.gov.sg")
        missing = _error(api.call, "SendTestEmail", campaign_id=campaign_id, recipient="")
        malformed = _error(api.call, "SendTestEmail", campaign_id=campaign_id, recipient="not-an-address")
        intruder = _error(CampaignApi(settings).call, "SendTestEmail", campaign_id=campaign_id, recipient="")
        emails = wait_until(lambda: (found := _test_emails(amqp_channel)) and found, timeout=10)
        emails += _test_emails(amqp_channel)
    assert no_template.code == "invalid_parameters" and "no template" in no_template.message
    assert missing.code == "invalid_recipient" and malformed.code == "invalid_recipient"
    assert intruder.code == "not_found"  # ownership before the address
    by_id = {email["message_id"]: email for email in emails}
    assert set(by_id) == {before_list.message_id, with_list.message_id}
    empty, first = by_id[before_list.message_id], by_id[with_list.message_id]
    assert (empty["to"], empty["subject"]) == ("me@agency.gov.sg", "Hi ")
    assert "\n<p>At </p>\n" in empty["body"] and empty["text"].startswith("At \n\n")  # the empty value after "At "
    assert first["subject"] == "Hi Tan Ah Kow" and "\n<p>At 2026-12-01 10:00</p>\n" in first["body"]
    assert first["reply_to"] == "help@agency.gov.sg" and "donotreply@" in first["sender"]
    # As the recipients get it: in the theme (the owner is of no agency: the default one), with a text part; the
    # unsubscribe link is a stand-in, since the test goes to the officer, not to the first recipient.
    assert f"<p style=\"margin:0 0 8px 0;font-weight:bold;color:#1a1a1a;\">{settings.default_agency_name}</p>" in \
        first["body"]
    assert '<a href="#" style' in first["body"] and "/unsubscribe/" not in first["body"]
    assert first["text"].startswith(f"At 2026-12-01 10:00\n\n{settings.default_agency_name}\n\n")
    assert first["text"].endswith("To stop receiving their emails, unsubscribe.\n")


@pytest.mark.parametrize("status, words", [(None, "has not been sent"), ("READY", "scheduled"),
                                           ("SENDING", "still sending")])
def test_only_a_finished_send_can_be_retried(settings, database, status, words):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        if status:
            with database.unit_of_work() as session:
                session.add(Job(campaign_id=campaign_id, status=status))
        error = _error(api.call, "RetryCampaign", campaign_id=campaign_id)
    assert error.code == "invalid_parameters" and words in error.message
    assert _count(database, Job, campaign_id) == (1 if status else 0)

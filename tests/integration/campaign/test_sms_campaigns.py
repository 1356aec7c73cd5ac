"""SMS campaigns up to send: the template (checked by the real renderer, with its segment count), the recipient
list read as phone numbers in E.164, the preview, and refusals of calls meant for another channel."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from postman_campaign.models import Recipient
from postman_shared.grpc.errors import ServiceError
from tests.integration.campaign.support import CampaignApi
from tests.support.inprocess import running

SMS_BODY = "Dear {{ name }}, your appointment is tomorrow."


@pytest.fixture
def api(settings):
    with running(settings, "auth", "renderer", "campaign"):
        yield CampaignApi(settings)


def _error(call, *args, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_an_sms_campaign_is_created_as_a_draft(api):
    campaign = api.get(api.create(channel="SMS"))
    assert campaign.type == "SMS" and not campaign.valid
    assert not campaign.HasField("sms_template") and not campaign.HasField("email_template")


def test_an_sms_template_says_how_many_segments_it_takes(api):
    campaign_id = api.create(channel="SMS")
    short = api.call("UpdateSmsTemplate", campaign_id=campaign_id, body=SMS_BODY)
    assert short.sms_template.body == SMS_BODY and list(short.sms_template.params) == ["name"]
    assert short.sms_template.segments == 1 and short.sms_template.encoding == "GSM-7"
    assert not short.valid and "upload a recipient list" in short.message
    long = api.call("UpdateSmsTemplate", campaign_id=campaign_id, body="Hello {{ name }} 😀 " + "x" * 200)
    assert long.sms_template.encoding == "UCS-2" and long.sms_template.segments > 1
    stored = api.get(campaign_id).sms_template
    assert stored.body == long.sms_template.body and list(stored.params) == ["name"]


def test_an_empty_sms_body_is_refused(api):
    campaign_id = api.create(channel="SMS")
    error = _error(api.call, "UpdateSmsTemplate", campaign_id=campaign_id, body="  ")
    assert error.code == "api_validation" and "body is required" in error.message


def test_phone_numbers_are_stored_in_e164_and_a_bad_one_is_counted_invalid(api, database):
    campaign_id = api.create(channel="SMS")
    api.call("UpdateSmsTemplate", campaign_id=campaign_id, body=SMS_BODY)
    status = api.upload(campaign_id, "sms_sg_numbers.csv")
    assert status.csv_error == "" and status.csv_filename == "sms_sg_numbers.csv"
    campaign = api.get(campaign_id)
    assert campaign.num_recipients == 6 and campaign.num_invalid == 1 and campaign.valid
    with database.session() as session:
        rows = session.execute(select(Recipient.recipient, Recipient.valid).where(
            Recipient.campaign_id == campaign_id).order_by(Recipient.line)).all()
    assert [r.recipient for r in rows if r.valid] == [
        "+6591234567", "+6591234567", "+6581234567", "+6562345678", "+447911123456"]
    assert [r.recipient for r in rows if not r.valid] == ["1234"]


def test_the_preview_renders_the_first_valid_recipient_with_its_segments(api):
    campaign_id = api.create(channel="SMS")
    api.call("UpdateSmsTemplate", campaign_id=campaign_id, body=SMS_BODY)
    status = api.upload(campaign_id, "sms_sg_numbers.csv")
    assert status.HasField("sms_preview") and not status.HasField("preview")
    assert status.sms_preview.body == "Dear A, your appointment is tomorrow."
    preview = api.call("PreviewSms", campaign_id=campaign_id)
    assert preview.body == "Dear A, your appointment is tomorrow."
    assert preview.segments == 1 and preview.encoding == "GSM-7"


def test_a_file_without_the_sms_template_keys_is_rejected_naming_the_key(api):
    campaign_id = api.create(channel="SMS")
    api.call("UpdateSmsTemplate", campaign_id=campaign_id, body="{{ name }}: {{ clinic }}")
    status = api.upload(campaign_id, "sms_sg_numbers.csv")
    assert "clinic" in status.csv_error and status.num_recipients == 0


def test_calls_meant_for_another_channel_are_refused_naming_the_campaigns_channel(api):
    sms_id, email_id = api.create(channel="SMS"), api.create()
    for error in (
        _error(api.save_template, sms_id),
        _error(api.call, "PreviewEmail", campaign_id=sms_id),
    ):
        assert error.code == "invalid_parameters" and f"Campaign {sms_id} is an SMS campaign" in error.message
    for error in (
        _error(api.call, "UpdateSmsTemplate", campaign_id=email_id, body=SMS_BODY),
        _error(api.call, "PreviewSms", campaign_id=email_id),
    ):
        assert error.code == "invalid_parameters" and f"Campaign {email_id} is an EMAIL campaign" in error.message
    assert not api.get(sms_id).HasField("email_template") and not api.get(email_id).HasField("sms_template")


def test_an_sms_campaign_without_credentials_is_not_sent(api, database):
    campaign_id = api.create(channel="SMS")
    api.call("UpdateSmsTemplate", campaign_id=campaign_id, body=SMS_BODY)
    api.upload(campaign_id, "sms_sg_numbers.csv")
    error = _error(api.call, "SendCampaign", campaign_id=campaign_id)
    assert error.code == "invalid_credentials" and "no Twilio credentials" in error.message
    assert not api.get(campaign_id).jobs


def test_another_users_sms_campaign_is_not_found(api, settings):
    campaign_id = api.create(channel="SMS")
    intruder = CampaignApi(settings)
    for method, fields in (("UpdateSmsTemplate", {"body": SMS_BODY}), ("PreviewSms", {})):
        assert _error(intruder.call, method, campaign_id=campaign_id, **fields).code == "not_found"
    assert not api.get(campaign_id).HasField("sms_template")

"""Credentials as campaign keeps them: stored sealed by a sender, found by label, listed without content, assigned
to a campaign of their channel only, removed; and SMS/Telegram sends that need one and take a rate."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from postman_campaign.models import Credential, Job
from postman_shared.grpc.errors import ServiceError
from tests.integration.campaign.support import CampaignApi
from tests.support.inprocess import running


@pytest.fixture
def api(settings):
    # Campaign first, so the renderer stops first: a job it is rendering when the test ends is finished while
    # campaign still answers, and no renderer thread outlives the test holding campaign.send messages.
    with running(settings, "auth", "campaign", "renderer"):
        yield CampaignApi(settings)


def _error(call, *args, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args, **kwargs)
    return caught.value


def _store(api: CampaignApi, channel: str = "SMS", label: str = "", campaign_id: int = 0, **extra):
    return api.call("StoreSealedCredential", channel=channel, label=label, sealed=b"sealed-bytes", key_id="key-1",
                    description="Twilio account AC12…6789", campaign_id=campaign_id, **extra)


def test_a_stored_credential_is_assigned_to_its_campaign_and_found_by_label(api, database):
    campaign_id = api.create(channel="SMS")
    assert not api.get(campaign_id).has_credential

    stored = _store(api, label="moh-reminders", campaign_id=campaign_id)

    campaign = api.get(campaign_id)
    assert campaign.has_credential and campaign.credential_id == stored.id
    found = api.call("FindCredential", channel="SMS", label="moh-reminders")
    assert (found.id, found.label, found.description) == (stored.id, "moh-reminders", "Twilio account AC12…6789")
    listed = api.call("ListCredentials", channel="SMS").credentials
    assert [c.id for c in listed] == [stored.id]
    with database.session() as session:
        row = session.get(Credential, stored.id)
        assert (bytes(row.sealed), row.key_id, row.user_id) == (b"sealed-bytes", "key-1", api.user_id)


@pytest.mark.parametrize("label", ["Upper", "has space", "x" * 51, "under_score"])
def test_a_label_outside_the_rule_is_refused_and_nothing_is_stored(api, database, label):
    campaign_id = api.create(channel="SMS")
    error = _error(_store, api, label=label, campaign_id=campaign_id)
    assert error.code == "invalid_credential_label" and "lower-case letters, digits or hyphens" in error.message
    assert not api.get(campaign_id).has_credential
    with database.session() as session:
        assert session.scalars(select(Credential).where(Credential.user_id == api.user_id)).all() == []


def test_a_label_is_unique_per_user_and_channel(api, settings):
    _store(api, label="main")
    error = _error(_store, api, label="main")
    assert error.code == "invalid_credential_label" and "already have a Twilio credential labelled 'main'" \
        in error.message
    _store(api, channel="TELEGRAM", label="main")  # another channel: fine
    CampaignApi(settings).call("StoreSealedCredential", channel="SMS", label="main", sealed=b"s", key_id="k")


def test_unlabelled_credentials_are_assigned_but_not_listed_or_found(api):
    campaign_id = api.create(channel="SMS")
    stored = _store(api, campaign_id=campaign_id)
    assert api.get(campaign_id).credential_id == stored.id
    assert list(api.call("ListCredentials", channel="").credentials) == []


def test_a_credential_cannot_go_to_another_channel_or_another_users_campaign(api, settings, database):
    sms_credential = _store(api, label="sms")
    telegram_campaign = api.create(channel="TELEGRAM")
    error = _error(api.call, "AssignCredential", campaign_id=telegram_campaign, credential_id=sms_credential.id)
    assert error.code == "invalid_parameters" and "TELEGRAM campaign" in error.message

    intruder = CampaignApi(settings)
    their_campaign = intruder.create(channel="SMS")
    assert _error(intruder.call, "AssignCredential", campaign_id=their_campaign,
                  credential_id=sms_credential.id).code == "not_found"
    assert _error(intruder.call, "FindCredential", channel="SMS", label="sms").code == "invalid_credential_label"
    assert _error(intruder.call, "DeleteCredential", credential_id=sms_credential.id).code == "not_found"
    # Storing for someone else's campaign stores nothing.
    assert _error(_store, intruder, campaign_id=api.create(channel="SMS")).code == "not_found"
    with database.session() as session:
        assert session.scalars(select(Credential).where(Credential.user_id == intruder.user_id)).all() == []


def test_deleting_a_credential_leaves_its_campaign_without_one(api):
    campaign_id = api.create(channel="TELEGRAM")
    stored = _store(api, channel="TELEGRAM", label="bot", campaign_id=campaign_id)
    api.call("DeleteCredential", credential_id=stored.id)
    assert not api.get(campaign_id).has_credential
    assert _error(api.call, "FindCredential", channel="TELEGRAM", label="bot").code == "invalid_credential_label"


def _ready_sms_campaign(api: CampaignApi, channel: str = "SMS") -> int:
    campaign_id = api.create(channel=channel)
    method = "UpdateSmsTemplate" if channel == "SMS" else "UpdateTelegramTemplate"
    api.call(method, campaign_id=campaign_id, body="Dear {{ name }}, see you tomorrow.")
    api.upload(campaign_id, "sms_sg_numbers.csv")
    _store(api, channel=channel, campaign_id=campaign_id)
    return campaign_id


def test_an_sms_send_keeps_its_rate_with_the_job(api, database):
    campaign_id = _ready_sms_campaign(api)
    sent = api.call("SendCampaign", campaign_id=campaign_id, channel="SMS", rate=25)
    with database.session() as session:
        job = session.get(Job, sent.job_ids[0])
        assert job.send_rate == 25  # (the running renderer may already be rendering it)
    assert api.call("GetJob", job_id=sent.job_ids[0]).job.send_rate == 25


@pytest.mark.parametrize("channel, rate, words", [
    ("TELEGRAM", 31, "at most 30 messages per second for Telegram"),
    ("SMS", -1, "at least 1"),
    ("SMS", 1001, "at most 1000"),
])
def test_a_rate_out_of_bounds_is_refused_and_nothing_is_sent(api, channel, rate, words):
    campaign_id = _ready_sms_campaign(api, channel)
    error = _error(api.call, "SendCampaign", campaign_id=campaign_id, rate=rate)
    assert error.code == "api_validation" and words in error.message
    assert not api.get(campaign_id).jobs


def test_a_telegram_campaign_has_an_html_template_and_sends_at_the_default_rate(api, database):
    campaign_id = api.create(channel="TELEGRAM")
    saved = api.call("UpdateTelegramTemplate", campaign_id=campaign_id,
                     body="<div><b>Dear {{ name }}</b></div><script>x()</script>")
    assert saved.sms_template.body == "<b>Dear {{ name }}</b>" and list(saved.sms_template.params) == ["name"]
    api.upload(campaign_id, "sms_sg_numbers.csv")
    assert "<b>Dear " in api.call("PreviewTelegram", campaign_id=campaign_id).body
    error = _error(api.call, "SendCampaign", campaign_id=campaign_id)
    assert error.code == "invalid_credentials" and "no Telegram bot" in error.message
    _store(api, channel="TELEGRAM", campaign_id=campaign_id)
    sent = api.call("SendCampaign", campaign_id=campaign_id, channel="TELEGRAM")
    with database.session() as session:
        assert session.get(Job, sent.job_ids[0]).send_rate is None
    wrong = _error(api.call, "SendCampaign", campaign_id=api.create(channel="SMS"), channel="TELEGRAM")
    assert wrong.code == "invalid_parameters" and "not an TELEGRAM campaign" in wrong.message

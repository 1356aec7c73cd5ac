"""Campaigns: creation rules, the list's filters, paging and sorting, and that only the owner sees a campaign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from postman_campaign.models import Campaign, EmailTemplate, Job, Recipient, Upload
from postman_shared.grpc.errors import ServiceError
from tests.integration.campaign.support import CampaignApi
from tests.support.inprocess import running


def _error(call, *args, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_an_email_campaign_is_created_as_a_draft(settings):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        created = api.call("CreateCampaign", name="  Flu jab reminders ", type="EMAIL")
        fetched = api.get(created.id)
    assert created.name == "Flu jab reminders" and created.type == "EMAIL" and created.user_id == api.user_id
    assert created.created_at.seconds > 0
    assert fetched.id == created.id and not fetched.jobs and not fetched.valid
    assert not fetched.HasField("email_template") and fetched.csv_filename == "" and fetched.num_recipients == 0


@pytest.mark.parametrize("name, channel, code, words", [
    ("", "EMAIL", "api_validation", "name is required"),
    ("   ", "TELEGRAM", "api_validation", "name is required"),
    ("Reminders", "FAX", "api_validation", "type must be one of"),
])
def test_creation_refuses_what_it_cannot_do(settings, name, channel, code, words):
    with running(settings, "campaign"):
        error = _error(CampaignApi(settings).call, "CreateCampaign", name=name, type=channel)
    assert error.code == code and words in error.message


def _make_campaigns(api, database):
    """Draft 'Alpha news', Sending 'beta news', Sent 'Gamma' (sent yesterday), Sent 'delta' (sent today)."""
    ids = [api.create(name) for name in ("Alpha news", "beta news", "Gamma", "delta")]
    now = datetime.now(UTC)
    with database.unit_of_work() as session:
        for offset, campaign_id in enumerate(ids):  # distinct creation times, oldest first
            session.execute(update(Campaign).where(Campaign.id == campaign_id)
                            .values(created_at=now - timedelta(hours=10 - offset)))
        session.add(Job(campaign_id=ids[1], status="SENDING"))
        session.add(Job(campaign_id=ids[2], status="LOGGED", sent_at=now - timedelta(days=1)))
        session.add(Job(campaign_id=ids[3], status="SENT", sent_at=now))
    return ids


def test_list_filters_by_status_name_and_type(settings, database):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        draft, sending, sent_yesterday, sent_today = _make_campaigns(api, database)

        def ids(**query):
            return [c.id for c in api.call("ListCampaigns", **query).campaigns]

        assert ids(status="Draft") == [draft]
        assert ids(status="Sending") == [sending]
        assert ids(status="Sent") == [sent_today, sent_yesterday]
        assert ids(name="NEWS") == [sending, draft]
        assert ids(name="%") == []
        assert ids(type="EMAIL") == [sent_today, sent_yesterday, sending, draft]
        assert ids(type="SMS") == []
        error = _error(api.call, "ListCampaigns", status="Scheduled later")
    assert error.code == "api_validation" and "status must be one of" in error.message


def test_list_pages_and_sorts(settings, database):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        draft, sending, sent_yesterday, sent_today = _make_campaigns(api, database)
        page = api.call("ListCampaigns", limit=2, offset=1)
        ascending = api.call("ListCampaigns", order_by="ASC")
        by_sent = api.call("ListCampaigns", sort_by="sent_at", order_by="ASC")
        too_many = _error(api.call, "ListCampaigns", limit=101)
    assert page.total_count == 4 and [c.id for c in page.campaigns] == [sent_yesterday, sending]
    assert [c.id for c in ascending.campaigns] == [draft, sending, sent_yesterday, sent_today]
    assert [c.id for c in by_sent.campaigns][:2] == [sent_yesterday, sent_today]
    assert [c.jobs[0].status for c in by_sent.campaigns[:2]] == ["LOGGED", "SENT"]
    assert too_many.code == "api_validation" and "between 1 and 100" in too_many.message


def _snapshot(database, campaign_id):
    with database.session() as session:
        return (
            session.execute(select(Campaign.name, Campaign.csv_filename, Campaign.num_recipients)
                            .where(Campaign.id == campaign_id)).one(),
            session.scalar(select(func.count()).select_from(EmailTemplate).where(
                EmailTemplate.campaign_id == campaign_id)),
            session.scalar(select(func.count()).select_from(Upload).where(Upload.campaign_id == campaign_id)),
            session.scalar(select(func.count()).select_from(Recipient).where(Recipient.campaign_id == campaign_id)),
            session.scalar(select(func.count()).select_from(Job).where(Job.campaign_id == campaign_id)),
        )


def test_another_users_campaign_is_not_found_on_every_call_and_nothing_changes(settings, database):
    with running(settings, "auth", "renderer", "campaign"):
        owner = CampaignApi(settings)
        campaign_id = owner.create()
        owner.save_template(campaign_id)
        owner.upload(campaign_id, "email_basic.csv")
        _key, transaction_id = owner.start_upload(campaign_id)
        before = _snapshot(database, campaign_id)

        intruder = CampaignApi(settings)
        calls = {
            "GetCampaign": {}, "GetUploadStatus": {}, "PreviewEmail": {}, "SendCampaign": {},
            "UpdateEmailTemplate": {"subject": "Hacked", "body": "<p>hacked</p>"},
            "StartUpload": {"mime_type": "text/csv", "md5": ""},
            "CompleteUpload": {"transaction_id": transaction_id, "filename": "evil.csv"},
        }
        for method, fields in calls.items():
            error = _error(intruder.call, method, campaign_id=campaign_id, **fields)
            assert (error.code, error.message) == ("not_found", "Campaign not found"), method
        listed = intruder.call("ListCampaigns")
    assert listed.total_count == 0 and not listed.campaigns
    assert _snapshot(database, campaign_id) == before

"""Times as the officer reads them: every page writes a time in DISPLAY_TIMEZONE (Singapore unless set), labelled
with the zone, with the UTC instant kept in ``<time datetime>``; the schedule form reads a typed time in the same
zone; the API keeps ISO 8601 UTC."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, update

from postman_campaign.models import Campaign, Job
from tests.conftest import TESTDATA
from tests.integration.web.test_campaign_pages import EMAIL_TEMPLATE, error_summary, new_campaign, page, submit, upload
from tests.support.inprocess import running

CREATED = datetime(2026, 12, 5, 15, 34, tzinfo=timezone.utc)  # 11:34pm in Singapore, 3:34pm in London (GMT)


@pytest.fixture
def services(settings):
    with running(settings, "auth", "campaign", "renderer", "stats"):
        yield


pytestmark = pytest.mark.usefixtures("services")


def campaign_id(url: str) -> int:
    return int(url.rsplit("/", 1)[-1])


def made_on(database, url: str, moment: datetime) -> None:
    with database.unit_of_work() as session:
        session.execute(update(Campaign).where(Campaign.id == campaign_id(url)).values(created_at=moment))


def test_the_campaign_page_and_list_show_singapore_time_while_the_api_keeps_utc(web_sign_in, database):
    officer = web_sign_in()
    campaign = new_campaign(officer, "Clinic reminder", "EMAIL")
    made_on(database, campaign, CREATED)

    shown = '<time datetime="2026-12-05T15:34:00+00:00">5 December 2026, 11:34pm (Singapore time)</time>'
    assert f"Created {shown}" in page(officer, campaign)
    assert f"<td>{shown}</td>" in page(officer, "/campaigns")
    assert " UTC" not in re.sub(r'datetime="[^"]*"', "", page(officer, "/campaigns"))

    listed = officer.client.get("/v1/campaigns?name=Clinic")
    assert listed.status_code == 200, listed.get_data(as_text=True)
    assert [found["created_at"] for found in listed.json["campaigns"]] == ["2026-12-05T15:34:00.000Z"]


def test_the_schedule_form_asks_for_singapore_time_and_says_so(web_sign_in):
    officer = web_sign_in()
    campaign = new_campaign(officer, "Later", "EMAIL")
    submit(officer, f"{campaign}/template", intent="save", **EMAIL_TEMPLATE)
    upload(officer, campaign, "email_basic.csv", (TESTDATA / "email_basic.csv").read_bytes())
    review = page(officer, f"{campaign}/review")
    assert "Singapore time (UTC+8)" in review and 'id="schedule-hint">Singapore time. For example' in review


class TestAnotherZone:
    """DISPLAY_TIMEZONE=Europe/London: the pages speak London time, with GMT or BST as the clocks say."""

    @pytest.fixture
    def settings(self, settings):
        return replace(settings, display_timezone="Europe/London")

    def test_pages_and_the_schedule_form_use_the_configured_zone(self, web_sign_in, database):
        officer = web_sign_in()
        campaign = new_campaign(officer, "Summer", "EMAIL")
        made_on(database, campaign, CREATED)
        assert "5 December 2026, 3:34pm (London time, GMT)</time>" in page(officer, campaign)

        submit(officer, f"{campaign}/template", intent="save", **EMAIL_TEMPLATE)
        upload(officer, campaign, "email_basic.csv", (TESTDATA / "email_basic.csv").read_bytes())
        assert "London time (UTC+0 or UTC+1)" in page(officer, f"{campaign}/review")

        skipped = submit(officer, f"{campaign}/review", when="later", date="2099-03-29", time="01:30")
        assert error_summary(skipped.get_data(as_text=True)) == [
            ("time", "01:30 does not happen on 2099-03-29 in London time (the clocks go forward then): "
                     "choose another time")]

        scheduled = submit(officer, f"{campaign}/review", when="later", date="2099-07-01", time="09:30")
        assert scheduled.status_code == 303, scheduled.get_data(as_text=True)
        assert "1 July 2099, 9:30am (London time, BST)" in page(officer, campaign)
        with database.unit_of_work() as session:
            job = session.scalars(select(Job).where(Job.campaign_id == campaign_id(campaign))).one()
            assert job.scheduled_at == datetime(2099, 7, 1, 8, 30, tzinfo=timezone.utc)

"""A first-time officer's campaign list: a short guide to what each channel needs, with a sample recipient file of
each channel to download (they read as the campaign service reads a recipient file); gone once a campaign exists.
Also: the list writes its times in Singapore time, labelled, whatever the browser's own zone."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Page, expect

from postman_gateway.web.formatting import local_time
from postman_shared.validators import is_valid_email, normalise_email, normalise_phone
from tests.browser.conftest import new_context
from tests.browser.journeys import create_campaign, sign_in
from tests.browser.page_checks import check_page
from tests.support.processes import RunningSystem

SAMPLES = {"email": "Download a sample email recipient file", "sms": "Download a sample SMS recipient file",
           "telegram": "Download a sample Telegram recipient file"}


def downloaded_rows(page: Page, link_name: str) -> list[dict[str, str]]:
    with page.expect_download() as started:
        page.get_by_role("link", name=link_name).click()
    download = started.value
    assert download.suggested_filename.endswith("-recipients.csv"), download.suggested_filename
    text = Path(download.path()).read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    assert reader.fieldnames is not None and reader.fieldnames[0] == "recipient", reader.fieldnames
    assert len(reader.fieldnames) > 1 and rows, "a sample shows a key column and at least one recipient"
    return rows


def test_a_new_officer_sees_the_guide_and_downloads_a_sample_for_each_channel(page: Page, officer_email: str,
                                                                               outbox: Path):
    sign_in(page, officer_email, outbox)
    guide = page.locator("#onboarding")
    expect(guide.get_by_role("heading", name="What you need for each channel")).to_be_visible()
    for channel in ("Email", "SMS", "Telegram"):
        expect(guide.get_by_role("heading", name=channel, exact=True)).to_be_visible()
    expect(guide).to_contain_text("Twilio account")
    expect(guide).to_contain_text("token")
    expect(guide).to_contain_text("subscribed to your bot")
    check_page(page, "onboarding")

    email_rows = downloaded_rows(page, SAMPLES["email"])
    assert all(is_valid_email(normalise_email(row["recipient"])) for row in email_rows), email_rows
    for channel in ("sms", "telegram"):
        rows = downloaded_rows(page, SAMPLES[channel])
        assert all(normalise_phone(row["recipient"], "SG") for row in rows), (channel, rows)

    create_campaign(page, "First campaign", "Email")
    page.goto("/campaigns")
    expect(page.locator("#campaigns")).to_contain_text("First campaign")
    expect(page.locator("#onboarding")).to_have_count(0)
    expect(page.get_by_role("link", name=SAMPLES["email"])).to_have_count(0)


def test_the_campaign_list_shows_its_times_in_singapore_time(browser: Browser, system: RunningSystem,
                                                             officer_email: str, outbox: Path):
    """A browser in London, with scripts on: the page still says Singapore time, as the server wrote it."""
    context = new_context(browser, system, timezone_id="Europe/London")
    page = context.new_page()
    try:
        sign_in(page, officer_email, outbox)
        create_campaign(page, "Timed campaign", "SMS")
        page.goto("/campaigns")
        created = page.locator("#campaigns tbody tr").first.locator("time").first
        expect(created).to_contain_text("(Singapore time)")
        instant = datetime.fromisoformat(created.get_attribute("datetime") or "")
        assert instant.tzname() == "UTC"
        assert created.inner_text() == local_time(instant, ZoneInfo("Asia/Singapore"))
    finally:
        context.close()

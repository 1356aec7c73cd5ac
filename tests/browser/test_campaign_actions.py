"""A campaign's other actions in a real browser: scheduled for a Singapore date and time, the scheduled send
cancelled (the campaign is a draft again), the campaign duplicated, and the copy, a draft, deleted."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.journeys import click_below_frame, create_campaign, sign_in, upload_recipients, write_html_message
from tests.browser.page_checks import check_page
from tests.conftest import TESTDATA

pytestmark = pytest.mark.e2e

NAME = "Flu jab reminders"
COPY = "Flu jab reminders, again"


def test_a_scheduled_send_is_cancelled_then_the_campaign_duplicated_and_the_copy_deleted(page: Page, outbox,
                                                                                         officer_email: str):
    sign_in(page, officer_email, outbox)
    campaign_id = create_campaign(page, NAME, "Email")
    page.get_by_label("Subject").fill("Your flu jab")
    write_html_message(page, "<p>Dear {{name}}, your flu jab is on {{appointment}}.</p>")
    page.get_by_role("button", name="Save and continue").click()
    upload_recipients(page, TESTDATA / "email_basic.csv")
    page.get_by_role("link", name="Continue").click()

    # Send tomorrow at 09:30, Singapore time.
    tomorrow = (datetime.now(ZoneInfo("Asia/Singapore")) + timedelta(days=1)).date()
    page.get_by_role("radio", name="At a date and time").check()
    page.get_by_label("Date", exact=True).fill(tomorrow.isoformat())
    page.get_by_label("Time", exact=True).fill("09:30")
    click_below_frame(page.get_by_role("button", name="Send campaign"))  # below the email's frame
    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign_id}$"))
    expect(page.locator("#status")).to_have_text("Scheduled")
    expect(page.locator("#scheduled")).to_contain_text("9:30")
    check_page(page, "campaign-scheduled")

    # Cancel it: asked twice; a draft again, with its message and recipients.
    page.get_by_role("link", name="Cancel the scheduled send").click()
    expect(page.get_by_role("heading", name="Cancel the scheduled send?")).to_be_visible()
    check_page(page, "campaign-cancel")
    page.get_by_role("button", name="Cancel the send").click()
    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign_id}$"))
    expect(page.locator("#status")).to_have_text("Draft")
    expect(page.locator("#recipient-counts")).to_contain_text("5 recipients in email_basic.csv")
    check_page(page, "campaign-draft")

    # Duplicate it, then delete the copy (asked twice).
    page.get_by_role("link", name="Duplicate this campaign").click()
    expect(page.get_by_label("Name of the copy")).to_have_value(f"Copy of {NAME}")
    check_page(page, "campaign-duplicate")
    page.get_by_label("Name of the copy").fill(COPY)
    page.get_by_role("button", name="Duplicate").click()
    expect(page.get_by_role("heading", name=COPY)).to_be_visible()
    copy_url = page.url
    assert not copy_url.endswith(f"/campaigns/{campaign_id}"), copy_url

    page.get_by_role("link", name="Delete this draft").click()
    expect(page.get_by_role("heading", name="Delete this draft?")).to_be_visible()
    check_page(page, "campaign-delete")
    page.get_by_role("button", name="Delete the draft").click()
    expect(page).to_have_url(re.compile(r"/campaigns$"))
    table = page.locator("#campaigns")
    expect(table.get_by_role("link", name=NAME, exact=True)).to_be_visible()
    expect(table.get_by_role("link", name=COPY)).to_have_count(0)
    gone = page.goto(copy_url)
    assert gone is not None and gone.status in (404, 410), gone and gone.status

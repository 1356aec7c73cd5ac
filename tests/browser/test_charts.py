"""The pictures in a real browser: the campaign page's outcomes over time, redrawn by its script while the campaign
sends (the server draws it; the script swaps the new one in, under the CSP), with its text alternative and its
numbers in a table; and the campaign list's last 30 days. An SMS campaign through the local Twilio fake, whose
receipts say delivered or undelivered, so the picture has more than one outcome. Screenshots: campaign-chart,
campaign-list-overview."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import TWILIO_ACCOUNT, TWILIO_UNDELIVERED
from tests.browser.journeys import add_twilio_account, create_campaign, sign_in, upload_recipients
from tests.browser.page_checks import check_page

pytestmark = pytest.mark.e2e

NAME = "Clinic SMS reminders"
RECIPIENTS, UNDELIVERED = 40, 4  # at 10 a second: a few seconds of sending, so the picture has a shape
RECEIPT_TIMEOUT = 30.0


def recipient_file(folder: Path) -> Path:
    """Singapore mobile numbers; every tenth is one Twilio's fake reports undelivered (an error)."""
    file = folder / "clinic.csv"
    file.write_text("recipient,name\n" + "".join(
        f"{TWILIO_UNDELIVERED if n % 10 == 9 else f'+659{n:07d}'},Patient {n}\n" for n in range(RECIPIENTS)))
    return file


def keep_sending(route: Route) -> None:
    """The progress as the server says it, except never finished: the page keeps polling (and redrawing its
    picture) instead of reloading, so only the script can show the new picture."""
    response = route.fetch()
    progress = response.json()
    progress["finished"] = False
    route.fulfill(response=response, json=progress)


def test_the_campaign_page_draws_its_outcomes_live_and_the_list_its_last_thirty_days(page: Page, outbox,
                                                                                       officer_email: str,
                                                                                       tmp_path: Path):
    sign_in(page, officer_email, outbox)
    campaign_id = create_campaign(page, NAME, "SMS")
    page.get_by_label("Message").fill("Dear {{name}}, your appointment is tomorrow.")
    page.get_by_role("button", name="Save and continue").click()
    upload_recipients(page, recipient_file(tmp_path))
    page.get_by_role("link", name="Continue").click()
    add_twilio_account(page, TWILIO_ACCOUNT, "+6588880000")
    page.get_by_label("Messages per second").fill("10")

    page.route(re.compile(rf"/campaigns/{campaign_id}/progress$"), keep_sending)
    page.get_by_role("button", name="Send campaign").click()
    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign_id}$"))
    first = page.locator("#outcome-figure")
    expect(first).to_be_visible()
    first.evaluate("figure => figure.setAttribute('data-drawn', 'with the page')")
    # Every outcome recorded shows in a picture the script fetched: the page was not reloaded.
    with page.expect_response(re.compile(rf"/campaigns/{campaign_id}/chart$"), timeout=30_000):
        pass
    expect(page.locator("#outcome-chart desc")).to_contain_text(f"{RECIPIENTS} messages reached an outcome",
                                                                 timeout=90_000)
    expect(page.locator("#outcome-figure[data-drawn]")).to_have_count(0)
    page.unroute(re.compile(rf"/campaigns/{campaign_id}/progress$"))

    # Twilio's receipts come after the send: the officer reloads until they are in (delivered, or undelivered).
    deadline = time.monotonic() + RECEIPT_TIMEOUT
    while not re.search(rf"delivered {RECIPIENTS - UNDELIVERED}; sent, no report yet 0; failed {UNDELIVERED};",
                        page.locator("#outcome-chart desc").text_content() or ""):
        assert time.monotonic() < deadline, page.locator("#outcome-chart desc").text_content() or ""
        page.reload()
    expect(page.locator("#live-progress")).to_have_attribute("data-finished", "true")
    chart = page.get_by_role("img", name=f"Messages of {NAME} by outcome over time")
    expect(chart).to_be_visible()
    expect(chart).to_have_accessible_description(re.compile(rf"\(Singapore time\), {RECIPIENTS} messages reached an "
                                                            r"outcome: delivered \d+; sent, no report yet 0; failed"))
    page.get_by_text("The picture’s numbers").first.click()
    numbers = page.get_by_role("table", name="Messages by outcome over time, running totals")
    expect(numbers).to_be_visible()
    expect(numbers.get_by_role("columnheader", name="Failed")).to_be_visible()
    expect(page.get_by_role("table", name="Messages by outcome", exact=True)).to_be_visible()  # the counts beside it
    check_page(page, "campaign-chart")

    page.goto("/campaigns")
    overview = page.get_by_role("region", name=f"Your last 30 days: {RECIPIENTS} messages sent")
    expect(overview).to_be_visible()
    picture = overview.get_by_role("img", name="Messages sent each day of the last 30 days")
    expect(picture).to_have_accessible_description(re.compile(rf"^{RECIPIENTS} messages sent in the last 30 days"))
    overview.get_by_text("The picture’s numbers").click()
    days = overview.get_by_role("table", name="Messages sent each day of the last 30 days")
    expect(days.get_by_role("row")).to_have_count(31)  # the heading and a row per day
    check_page(page, "campaign-list-overview")

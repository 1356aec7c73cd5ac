"""The issue's newcomer, in a real browser: signs in with the password found on the outbox page, creates an email
campaign, writes its message (with the live preview), uploads tests/testdata/email_basic.csv (5 valid recipients),
reviews the first message as it will arrive, sends, watches the progress to the end, downloads the failed and
invalid recipients, and finds the five emails in the outbox. Every page passes ``check_page`` (axe-core, the CSP)
and is photographed to var/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.journeys import (
    EXPORT_HEADER,
    ask_for_password,
    click_below_frame,
    create_campaign,
    download,
    enter_password,
    password_from_outbox_page,
    upload_recipients,
    wait_until_sent,
    write_html_message,
)
from tests.browser.page_checks import check_page
from tests.conftest import TESTDATA

pytestmark = pytest.mark.e2e

NAME = "Dental reminders <b>December</b>"  # markup typed by an officer: shown as text everywhere
RECIPIENTS = [f"officer{i}@example.gov.sg" for i in range(5)]


def test_a_newcomer_sends_an_email_campaign_from_sign_in_to_export(page: Page, officer_email: str):
    # Sign in: the password comes from the outbox page, linked from the password page.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/campaigns"))
    ask_for_password(page, officer_email, check=True)
    enter_password(page, password_from_outbox_page(page, check=True))
    expect(page.get_by_role("heading", name="Campaigns", exact=True)).to_be_visible()
    check_page(page, "campaign-list-empty")

    # A new campaign: a missing name and channel are shown in the error summary, linked to their fields.
    page.get_by_role("link", name="Create a campaign").first.click()
    page.get_by_role("button", name="Create campaign").click()
    summary = page.get_by_role("alert")
    expect(summary.get_by_role("link", name="Enter a name for the campaign")).to_have_attribute("href", "#name")
    check_page(page, "campaign-new-error")
    campaign_id = create_campaign(page, NAME, "Email", check="campaign-new")
    expect(page.get_by_text(f"Email campaign: {NAME}")).to_be_visible()

    # The message, with the live preview of the keys it uses.
    page.get_by_label("Subject").fill("Your appointment, {{name}}")
    write_html_message(page, "<p>Dear {{name}},</p><p>Your appointment is on {{appointment}}.</p>")
    expect(page.locator("#preview-keys")).to_contain_text("appointment")
    expect(page.locator("#preview-columns")).to_contain_text("recipient")
    check_page(page, "campaign-template")
    page.get_by_role("button", name="Save and continue").click()

    # The recipients.
    expect(page.get_by_role("heading", name="Upload the recipients")).to_be_visible()
    check_page(page, "campaign-recipients")
    upload_recipients(page, TESTDATA / "email_basic.csv")
    expect(page.locator("#recipient-counts")).to_contain_text("5 recipients, of which 0 are not valid")
    check_page(page, "campaign-recipients-done")
    page.get_by_role("link", name="Continue").click()

    # Review: the first message as it will arrive, the counts; a test email; send now.
    expect(page.get_by_role("heading", name="Review and send")).to_be_visible()
    expect(page.locator("#preview-subject")).to_have_text("Your appointment, Tan Ah Kow")
    framed = page.frame_locator("#preview-body")  # the email in its theme, in a sandboxed frame
    expect(framed.locator("body")).to_contain_text("Your appointment is on 2026-12-01 10:00.")
    expect(framed.locator("body")).to_contain_text("To stop receiving their emails, unsubscribe.")
    expect(page.locator("#review-recipients")).to_contain_text("5 in email_basic.csv")
    expect(page.locator("#review-invalid")).to_contain_text("0")
    check_page(page, "campaign-review")
    page.get_by_text("Send a test email first").click()
    page.get_by_role("button", name="Send test email").click()
    expect(page.get_by_text("The test email is on its way.")).to_be_visible()
    click_below_frame(page.get_by_role("button", name="Send campaign"))  # below the email's frame

    # The campaign page follows the send to the end.
    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign_id}$"))
    expect(page.get_by_role("heading", name=NAME)).to_be_visible()
    wait_until_sent(page)
    expect(page.locator("#count-sent")).to_have_text("5")
    for status in ("unsent", "error", "invalid", "unsubscribed"):
        expect(page.locator(f"#count-{status}")).to_have_text("0")
    expect(page.locator("#progress-percent")).to_have_text("100")
    check_page(page, "campaign-sent")

    # Export: nobody failed and nobody was invalid, so both downloads are the header alone; the whole export has
    # every recipient, each SENT.
    assert download(page, "Failed recipients (CSV)") == [EXPORT_HEADER]
    assert download(page, "Invalid recipients (CSV)") == [EXPORT_HEADER]
    everyone = download(page, "Every recipient (CSV)")
    assert everyone[0] == EXPORT_HEADER and len(everyone) == 6 and {row[1] for row in everyone[1:]} == {"SENT"}

    # The list shows it sent, its name as typed.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    row = page.locator(f"#campaign-{campaign_id}")
    expect(row.get_by_role("link", name=NAME)).to_be_visible()
    expect(row).to_contain_text("Sent")
    assert row.locator("b").count() == 0, "the campaign's name was rendered as markup"
    check_page(page, "campaign-list")

    # The five emails (and the test email) are in the outbox, each to its own recipient.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Outbox").click()
    table = page.locator("#outbox-table")
    for address in RECIPIENTS:
        expect(table.get_by_role("row").filter(has_text=address)).to_have_count(1)
    check_page(page, "outbox")
    table.get_by_role("row").filter(has_text=RECIPIENTS[1]).get_by_role("link").click()
    expect(page.get_by_role("heading", name="Your appointment, Siti Nurhaliza")).to_be_visible()
    page.get_by_text("The message as text").click()
    expect(page.locator("#email-text")).to_contain_text("Your appointment is on 2026-12-02 10:00.")
    check_page(page, "outbox-email")

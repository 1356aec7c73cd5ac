"""Every campaign email looks like an official email of its agency, in a real browser: an officer of an agency
(added as `postmanctl agency` does) writes a message with a link key; the editor's live preview shows it in the
theme, with the logo until the officer unticks "Show your agency's logo"; the review shows the first recipient's
email in the theme; what arrives in the outbox is that email, with its text part. The emails are shown in sandboxed
frames under their own policy; the pages around them keep theirs (no CSP violation). The themed emails are
photographed to var/screenshots/ (themed-email-*.png) beside the pages."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.journeys import campaign_email, click_below_frame, sign_in, upload_recipients, write_html_message
from tests.browser.page_checks import check_page, screenshot_path, take_screenshot
from tests.conftest import TESTDATA
from tests.support.agencies import officer_of_new_agency

pytestmark = pytest.mark.e2e

LOGO = "https://logo.example.gov.sg/ministry-of-examples.svg"
# The agency's logo as its web server would answer (the browser has no network: the test answers for it).
LOGO_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="240" height="56" viewBox="0 0 240 56">'
            '<rect width="56" height="56" rx="8" fill="#b00020"/><path d="M14 40 L28 14 L42 40 Z" fill="#fff"/>'
            '<text x="68" y="24" font-family="Arial" font-size="15" font-weight="bold" fill="#1a1a1a">Ministry of'
            '</text><text x="68" y="44" font-family="Arial" font-size="15" font-weight="bold" fill="#1a1a1a">'
            'Examples</text></svg>')
FIRST = "officer0@example.gov.sg"  # tests/testdata/email_basic.csv
RESCHEDULE = "https://go.gov.sg/reschedule?clinic=1&day=2"  # a link key's value: a link in the email


def answer_logo(route: Route) -> None:
    route.fulfill(status=200, content_type="image/svg+xml", body=LOGO_SVG)


def photograph_email(page: Page, frame_url: str, name: str) -> None:
    """The framed email alone, opened as a page of its own (its sandbox policy still holds), photographed."""
    alone = page.context.new_page()
    try:
        alone.goto(frame_url)
        alone.wait_for_load_state("load")
        take_screenshot(alone, screenshot_path(name))
    finally:
        alone.close()


def test_an_agencys_officer_sees_and_sends_emails_in_the_agencys_look(page: Page, outbox: Path, database,
                                                                     tmp_path: Path):
    officer = officer_of_new_agency(database, name="Ministry of Examples", logo_uri=LOGO)
    page.context.route(LOGO, answer_logo)
    # Tall enough for the whole page: a full-page screenshot of a shorter window resizes it for the picture, and
    # Chromium then paints the out-of-process frame of the email late or not at all.
    page.set_viewport_size({"width": 1280, "height": 2100})
    sign_in(page, officer.email, outbox)
    page.goto("/campaigns/new")
    page.get_by_label("Campaign name").fill("Forms to fill")
    page.get_by_role("radio", name="Email", exact=True).check()
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", name="Write the message")).to_be_visible()
    campaign_id = int(re.search(r"/campaigns/(\d+)/template", page.url).group(1))

    # The live preview: the whole email in the agency's look, with its logo (shown by default).
    logo_box = page.get_by_label("Show your agency’s logo")
    expect(logo_box).to_be_checked()
    page.get_by_label("Subject").fill("Your appointment, {{name}}")
    write_html_message(page, "<p>Dear {{name}},</p><p>Your appointment is on {{appointment}}. "
                                      "Reschedule at {{reschedule_link}}.</p>")
    framed = page.frame_locator("#preview-body")
    expect(framed.locator("body")).to_contain_text("Your appointment is on [appointment].")
    expect(framed.locator("body")).to_contain_text(officer.agency)
    expect(framed.locator("body")).to_contain_text("An email from a Singapore Government agency")
    expect(framed.locator("body")).to_contain_text("How to tell that this email is genuine")
    expect(framed.locator(f'img[src="{LOGO}"]')).to_be_visible()
    check_page(page, "campaign-template-themed")

    logo_box.uncheck()
    expect(framed.locator("img")).to_have_count(0)
    expect(framed.locator("body")).to_contain_text(officer.agency)
    logo_box.check()
    expect(framed.locator(f'img[src="{LOGO}"]')).to_be_visible()
    page.get_by_role("button", name="Save and continue").click()

    # The review: the first recipient's email, as it will arrive.
    recipients = tmp_path / "reminders.csv"
    recipients.write_text("\n".join(
        line + ("," + RESCHEDULE if index else ",reschedule_link")
        for index, line in enumerate((TESTDATA / "email_basic.csv").read_text().splitlines())) + "\n")
    upload_recipients(page, recipients)
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("heading", name="Review and send")).to_be_visible()
    expect(page.locator("#review-agency")).to_have_text(
        f"In the look of {officer.agency}, with its logo, under the government masthead.")
    framed = page.frame_locator("#preview-body")
    expect(framed.locator("body")).to_contain_text("Dear Tan Ah Kow,")
    expect(framed.locator(f'img[src="{LOGO}"]')).to_be_visible()
    expect(framed.get_by_role("link", name=RESCHEDULE)).to_have_attribute("href", RESCHEDULE)
    expect(framed.get_by_role("link", name="unsubscribe")).to_have_attribute("href", "#")  # a stand-in
    check_page(page, "campaign-review-themed")
    photograph_email(page, f"/campaigns/{campaign_id}/review/frame", "themed-email-review")

    click_below_frame(page.get_by_role("button", name="Send campaign"))
    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign_id}$"))

    # What arrived: text and HTML, the recipient's own unsubscribe link in both.
    message = campaign_email(outbox, campaign_id, FIRST)
    assert message.get_content_type() == "multipart/alternative"
    text, html = (part.get_payload(decode=True).decode() for part in message.get_payload())
    assert f"\r\n\r\n{officer.agency}\r\n" in text and "Dear Tan Ah Kow," in text and "unsubscribe (http" in text
    assert f"Reschedule at {RESCHEDULE}." in text
    assert f'<img src="{LOGO}" alt="{escape(officer.agency)}"' in html

    page.goto("/outbox")
    page.locator(f'#outbox-table a[href^="/outbox/{campaign_id}-"]').locator("xpath=ancestor::tr").filter(
        has_text=FIRST).get_by_role("link").click()
    framed = page.frame_locator("iframe.outbox-frame")
    expect(framed.locator("body")).to_contain_text("Dear Tan Ah Kow,")
    expect(framed.locator(f'img[src="{LOGO}"]')).to_be_visible()
    click_below_frame(page.get_by_text("The message as text"))
    expect(page.locator("#email-text")).to_contain_text(officer.agency)  # the email's own text part
    expect(page.locator("#email-text")).to_contain_text("unsubscribe (http")
    check_page(page, "outbox-email-themed")
    frame_src = page.locator("iframe.outbox-frame").get_attribute("src")
    photograph_email(page, frame_src, "themed-email-outbox")

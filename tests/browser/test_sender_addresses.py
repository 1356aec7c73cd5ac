"""Settings > Sender addresses in a real browser: an address is added, refused first with a clear reason, confirmed
through the link emailed to it (read from the outbox folder, opened in the browser), offered by the template step's
From drop-down and shown on the review page, then removed after a confirmation."""

from __future__ import annotations

import email
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.journeys import ARRIVAL_TIMEOUT, create_campaign, sign_in, write_html_message
from tests.browser.page_checks import check_page

pytestmark = pytest.mark.e2e

DEFAULT_ADDRESS = "donotreply@mail.postman.gov.sg"


def confirmation_link(outbox: Path, address: str) -> str:
    """The link of the newest confirmation email to ``address`` in the outbox folder."""
    deadline = time.monotonic() + ARRIVAL_TIMEOUT
    while time.monotonic() < deadline:
        found = sorted((path.stat().st_mtime, path) for path in outbox.glob("sender-confirm-*.eml")
                       if email.message_from_bytes(path.read_bytes())["To"] == address)
        if found:
            payload = email.message_from_bytes(found[-1][1].read_bytes()).get_payload(decode=True)
            assert isinstance(payload, bytes)
            link = re.search(r'href="([^"]+/sender-addresses/confirm\?token=[^"]+)"', payload.decode())
            assert link, payload.decode()
            return link.group(1)
        time.sleep(0.05)
    raise AssertionError(f"no confirmation email to {address} in {outbox}")


def test_a_sender_address_is_confirmed_by_its_link_chosen_as_the_from_and_removed(page: Page, outbox: Path,
                                                                                  officer_email: str):
    address = officer_email.replace("officer-", "frontdesk-")
    sign_in(page, officer_email, outbox)
    page.goto("/settings")
    expect(page.get_by_role("heading", name="Sender addresses")).to_be_visible()
    expect(page.get_by_text("You have no sender addresses of your own.")).to_be_visible()

    page.get_by_role("link", name="Add a sender address").click()
    check_page(page, "settings-sender-new")
    page.get_by_label("Email address").fill("someone@gmail.com")
    page.get_by_role("button", name="Verify the address").click()
    expect(page.get_by_role("alert")).to_contain_text("not in a domain allowed")  # said on the form
    check_page(page, "settings-sender-refused")
    page.get_by_label("Email address").fill(address)
    page.get_by_role("button", name="Verify the address").click()

    expect(page.get_by_role("status")).to_contain_text("A confirmation link was emailed")
    row = page.locator("#sender-table").get_by_role("row").filter(has_text=address)
    expect(row).to_contain_text("Waiting for confirmation")
    check_page(page, "settings-senders")

    page.goto(confirmation_link(outbox, address))  # the link in the email, opened by the mailbox's owner
    expect(page.get_by_role("heading", name="Confirm your sender address")).to_be_visible()
    check_page(page, "sender-confirm")
    page.get_by_role("button", name=f"Confirm {address}").click()
    expect(page.get_by_role("heading", name="Sender address confirmed")).to_be_visible()
    page.get_by_role("link", name="Go to your sender addresses").click()
    expect(page.locator("#sender-table").get_by_role("row").filter(has_text=address)).to_contain_text("Verified")

    campaign_id = create_campaign(page, "Front desk hours", "Email")
    choices = page.get_by_label("From address").locator("option").all_inner_texts()
    assert choices == [f"{DEFAULT_ADDRESS} (the default address)", address], choices
    page.get_by_label("Subject").fill("Our opening hours")
    write_html_message(page, "<p>We open at 9.</p>")
    page.get_by_label("Sender name (optional)").fill("Front Desk")
    page.get_by_label("From address").select_option(address)
    check_page(page, "campaign-template-from")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="Upload the recipients")).to_be_visible()
    page.goto(f"/campaigns/{campaign_id}/template")
    expect(page.get_by_label("Sender name (optional)")).to_have_value("Front Desk")
    expect(page.get_by_label("From address")).to_have_value(address)

    page.goto("/settings")
    page.locator("#sender-table").get_by_role("link", name=f"Remove {address}").click()
    expect(page.get_by_role("heading", name="Remove this sender address?")).to_be_visible()
    check_page(page, "settings-sender-remove")
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("You have no sender addresses of your own.")).to_be_visible()

    page.goto(f"/campaigns/{campaign_id}/template")  # the saved From is no longer one to send from: it says so
    expect(page.get_by_label("From address")).to_contain_text("not one you may send from")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("alert")).to_contain_text("Settings > Sender addresses")
    page.get_by_label("From address").select_option(DEFAULT_ADDRESS)
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="Upload the recipients")).to_be_visible()

"""A recipient's unsubscribe link in a real browser, signed out: an email campaign goes out through the local outbox,
the recipient opens the link of their email (its List-Unsubscribe header; the footer carries the same), gives a
reason, confirms, and undoes it with "Subscribe again"; meanwhile the officer sees the unsubscribe on their
suppression list, and it is gone once the recipient subscribed again. A link whose signature was altered is refused.
Every page passes ``check_page`` (axe-core, the CSP) and is photographed to var/screenshots/."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import new_context
from tests.browser.journeys import campaign_email, send_email_campaign, sign_in, unsubscribe_link
from tests.browser.page_checks import check_page, watch_of
from tests.conftest import TESTDATA

pytestmark = pytest.mark.e2e

RECIPIENT = "officer2@example.gov.sg"  # tests/testdata/email_basic.csv


def test_a_recipient_unsubscribes_with_the_link_of_their_email_and_subscribes_again(
        page: Page, browser: Browser, system, outbox, officer_email: str):
    sign_in(page, officer_email, outbox)
    campaign_id = send_email_campaign(page, "Newsletter <December>", TESTDATA / "email_basic.csv")
    message = campaign_email(outbox, campaign_id, RECIPIENT)
    link = unsubscribe_link(message)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = message.get_payload(decode=True) if not message.is_multipart() else b"".join(
        part.get_payload(decode=True) or b"" for part in message.walk() if not part.is_multipart())
    assert link in html.unescape(body.decode()), "the footer does not carry the List-Unsubscribe link"
    parts = urlsplit(link)
    assert parts.path == f"/unsubscribe/{campaign_id}/{RECIPIENT}", link
    path = f"{parts.path}?{parts.query}"

    # The recipient is not signed in: a context of their own.
    recipient = new_context(browser, system)
    try:
        reader = recipient.new_page()
        reader.goto(path)
        expect(reader.get_by_role("heading", name="Unsubscribe from these emails?")).to_be_visible()
        expect(reader.locator("#unsubscribe-recipient")).to_have_text(RECIPIENT)
        expect(reader.get_by_role("button", name="Sign out")).to_have_count(0)
        check_page(reader, "unsubscribe-confirm")
        reader.get_by_role("radio", name="I receive too many emails").check()
        reader.get_by_role("button", name="Unsubscribe").click()
        expect(reader.get_by_role("heading", name="You have unsubscribed")).to_be_visible()
        expect(reader.get_by_text("Your reason: I receive too many emails")).to_be_visible()
        check_page(reader, "unsubscribe-done")

        # The officer's suppression list has it, as an unsubscribe from their campaigns.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Suppression list").click()
        row = page.locator("#entry-table tbody tr").filter(has_text=RECIPIENT)
        expect(row).to_contain_text("Unsubscribed")
        expect(row).to_contain_text("Your campaigns")
        expect(row.get_by_role("link", name=f"Your campaign {campaign_id}")).to_be_visible()
        check_page(page, "suppression-list-unsubscribed")

        # Unsubscribed by mistake: the same page undoes it, and the entry is gone from the officer's list.
        reader.get_by_role("button", name="Subscribe again").click()
        expect(reader.get_by_role("heading", name="You are subscribed again")).to_be_visible()
        check_page(reader, "unsubscribe-resubscribed")
        page.reload()
        expect(page.locator("#entry-table tbody tr").filter(has_text=RECIPIENT)).to_have_count(0)

        # A link whose signature was changed does nothing.
        altered = re.sub(r"([?&]h=)([0-9A-Za-z_-])", lambda m: m.group(1) + ("A" if m.group(2) != "A" else "B"),
                         path)
        assert altered != path
        refused = reader.goto(altered)
        assert refused is not None and refused.status == 400
        expect(reader.get_by_role("heading", name="This unsubscribe link does not work")).to_be_visible()
        check_page(reader, "unsubscribe-invalid")
        problems = watch_of(reader).problems()
        assert not problems, "\n".join(problems)
    finally:
        recipient.close()

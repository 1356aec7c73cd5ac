"""Settings in a real browser: an API key is created (shown once, working at once), listed without its secret and
revoked (refused at once); a label with markup in it is shown as text. Twilio credentials are refused with a wrong
secret, then checked with a test SMS (the local Twilio fake), saved and removed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import TWILIO_ACCOUNT
from tests.browser.journeys import sign_in
from tests.browser.page_checks import check_page
from tests.fakes.twilio import FakeTwilio
from tests.support.processes import RunningSystem

pytestmark = pytest.mark.e2e

LABEL = "<i>reminders</i> & co"  # markup a user typed: shown as these characters, never as markup


def campaigns_status(system: RunningSystem, key: str) -> int:
    return requests.get(f"{system.gateway_url}/v1/campaigns", headers={"Authorization": f"Bearer {key}"},
                        timeout=10).status_code


def test_an_api_key_is_shown_once_and_revoking_it_stops_it(page: Page, system: RunningSystem, outbox: Path,
                                                           officer_email: str):
    sign_in(page, officer_email, outbox)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    expect(page.get_by_text("You have no API keys.")).to_be_visible()
    check_page(page, "settings")

    page.get_by_role("link", name="Create an API key").click()
    page.get_by_role("button", name="Create the key").click()  # no label: said on the field
    expect(page.get_by_role("alert")).to_contain_text("Enter a label")
    check_page(page, "api-key-new-error")
    page.get_by_label("Label").fill(LABEL)
    page.get_by_role("button", name="Create the key").click()

    shown = page.get_by_label(re.compile("^API key"))
    key = shown.input_value()
    assert key.startswith("live_v1_"), key
    check_page(page, "api-key-created")
    assert campaigns_status(system, key) == 200

    page.get_by_role("link", name="I have copied the key").click()
    table = page.locator("#api-key-table")
    row = table.get_by_role("row").filter(has_text=LABEL)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(key[-5:])
    assert table.locator("i").count() == 0, "the label's markup was rendered"
    assert key not in page.content(), "the key is shown once, on the page that created it"

    row.get_by_role("link", name=f"Revoke the key {LABEL}").click()
    expect(page.get_by_role("heading", name="Revoke this API key?")).to_be_visible()
    check_page(page, "api-key-revoke")
    page.get_by_role("button", name="Revoke the key").click()

    expect(page.get_by_role("status")).to_be_visible()
    expect(page.get_by_text("You have no API keys.")).to_be_visible()
    assert campaigns_status(system, key) == 401


def test_twilio_credentials_are_checked_with_a_test_sms_saved_and_removed(page: Page, outbox: Path,
                                                                          officer_email: str, twilio: FakeTwilio):
    sign_in(page, officer_email, outbox)
    page.goto("/settings")
    page.get_by_role("link", name="Add Twilio credentials").click()
    check_page(page, "settings-twilio-new")
    page.get_by_label("Label").fill("moh-reminders")
    page.get_by_label("Account SID").fill(TWILIO_ACCOUNT["account_sid"])
    page.get_by_label("API key SID").fill(TWILIO_ACCOUNT["api_key"])
    page.get_by_label("API key secret").fill("not-the-secret")
    page.get_by_label("Messaging service SID").fill(TWILIO_ACCOUNT["messaging_service_sid"])
    page.get_by_label("Mobile number for the test SMS").fill("+65 9000 0002")
    page.get_by_role("button", name="Send the test SMS and save").click()
    expect(page.get_by_role("alert")).to_contain_text("Twilio refused")  # the wrong secret, said on the form
    expect(page.get_by_label("API key secret")).to_have_value("")  # a secret is never sent back
    check_page(page, "settings-twilio-refused")

    page.get_by_label("API key secret").fill(TWILIO_ACCOUNT["api_secret"])
    page.get_by_role("button", name="Send the test SMS and save").click()
    row = page.locator("#twilio-table").get_by_role("row").filter(has_text="moh-reminders")
    expect(row).to_have_count(1)
    assert [m.to for m in twilio.sent].count("+6590000002") == 1  # the one test SMS (the refused one never went)
    assert TWILIO_ACCOUNT["api_secret"] not in page.content()

    row.get_by_role("link", name="Remove moh-reminders").click()
    check_page(page, "settings-credential-remove")
    page.get_by_role("button").filter(has_text="Remove").click()
    expect(page.get_by_text("You have no saved Twilio credentials.")).to_be_visible()

"""An SMS campaign in a real browser against the local Twilio fake (driven by the official twilio library in
sender-sms): the SMS length as the message is typed, tests/testdata/sms_sg_numbers.csv (5 valid numbers, one of them
undelivered by Twilio, and "1234" invalid), a Twilio account added in the credentials step with a test SMS, review,
send at a chosen rate, the counts once Twilio's receipts are in, both downloads, and a retry of the failed message."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import TWILIO_ACCOUNT, TWILIO_UNDELIVERED
from tests.browser.journeys import EXPORT_HEADER, create_campaign, download, sign_in, upload_recipients, wait_until_sent
from tests.browser.page_checks import check_page
from tests.conftest import TESTDATA
from tests.fakes.twilio import FakeTwilio

pytestmark = pytest.mark.e2e

TEST_NUMBER = "+6590000001"
BODY = "Dear {{name}}, your appointment is tomorrow."
EXPECTED: Counter[tuple[str | None, str | None]] = Counter({  # (number, text) -> times; tests/testdata/README.md
    ("+6591234567", "Dear A, your appointment is tomorrow."): 1,
    ("+6591234567", "Dear B, your appointment is tomorrow."): 1,
    (TWILIO_UNDELIVERED, "Dear C, your appointment is tomorrow."): 1,
    ("+6562345678", "Dear D landline, your appointment is tomorrow."): 1,
    ("+447911123456", "Dear F foreign, your appointment is tomorrow."): 1,
})
RECEIPT_TIMEOUT = 30.0


def campaign_messages(twilio: FakeTwilio, since: int) -> Counter[tuple[str | None, str | None]]:
    """What Twilio took since the ``since``-th message (the fake serves every test of the package), but test SMS."""
    return Counter((message.to, message.body) for message in twilio.sent[since:] if message.to != TEST_NUMBER)


def reload_until(page: Page, selector: str, text: str) -> None:
    """Twilio's receipts arrive after the send has finished (and the page has stopped following it): the officer
    reloads the page until they are counted."""
    deadline = time.monotonic() + RECEIPT_TIMEOUT
    while page.locator(selector).inner_text().strip() != text:
        assert time.monotonic() < deadline, f"{selector} is {page.locator(selector).inner_text()!r}, not {text!r}"
        page.reload()


def test_an_sms_campaign_is_sent_through_twilio_and_its_failure_retried(page: Page, outbox, officer_email: str,
                                                                         twilio: FakeTwilio):
    before = len(twilio.sent)
    sign_in(page, officer_email, outbox)
    campaign_id = create_campaign(page, "Clinic SMS reminders", "SMS")

    # The message: its length in SMS parts as it is typed, then in the preview.
    page.get_by_label("Message").fill(BODY)
    expect(page.locator("#sms-length")).to_contain_text("GSM-7: 1 SMS part")
    expect(page.locator("#preview-segments")).to_contain_text("1 SMS part")
    check_page(page, "sms-template")
    page.get_by_role("button", name="Save and continue").click()

    upload_recipients(page, TESTDATA / "sms_sg_numbers.csv")
    expect(page.locator("#recipient-counts")).to_contain_text("6 recipients, of which 1 is not valid")
    page.get_by_role("link", name="Continue").click()

    # The credentials: every missing field in the error summary, then a Twilio account and a test SMS.
    expect(page.get_by_role("heading", name="Choose the Twilio account")).to_be_visible()
    check_page(page, "sms-credentials")
    page.get_by_role("button", name="Send test SMS and use this account").click()
    summary = page.get_by_role("alert")
    for field in ("twilio_account_sid", "twilio_api_key", "twilio_api_secret", "twilio_messaging_service_sid",
                  "new_recipient"):
        expect(summary.locator(f'a[href="#{field}"]')).to_have_count(1)
    check_page(page, "sms-credentials-error")
    page.get_by_label("Account SID").fill(TWILIO_ACCOUNT["account_sid"])
    page.get_by_label("API key SID").fill(TWILIO_ACCOUNT["api_key"])
    page.get_by_label("API key secret").fill(TWILIO_ACCOUNT["api_secret"])
    page.get_by_label("Messaging Service SID").fill(TWILIO_ACCOUNT["messaging_service_sid"])
    page.get_by_label("Mobile number for the test SMS").fill("+65 9000 0001")
    page.get_by_label("Save it for other campaigns as (optional)").fill("clinic-sms")
    page.get_by_role("button", name="Send test SMS and use this account").click()

    # Review: the test SMS went out; the first message as it will arrive; send at 10 a second.
    expect(page.get_by_role("heading", name="Review and send")).to_be_visible()
    assert [m.to for m in twilio.sent[before:] if m.to == TEST_NUMBER] == [TEST_NUMBER]
    expect(page.locator("#preview-body")).to_have_text("Dear A, your appointment is tomorrow.")
    expect(page.locator("#review-segments")).to_contain_text("1 SMS part")
    expect(page.locator("#review-invalid")).to_contain_text("1")
    check_page(page, "sms-review")
    page.get_by_label("Messages per second").fill("10")
    page.get_by_role("button", name="Send campaign").click()

    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign_id}$"))
    wait_until_sent(page)
    reload_until(page, "#count-error", "1")
    expect(page.locator("#count-sent")).to_have_text("4")
    expect(page.locator("#count-invalid")).to_have_text("1")
    expect(page.locator("#count-unsent")).to_have_text("0")
    expect(page.locator("#send-rate")).to_contain_text("10 messages per second")
    check_page(page, "sms-sent")
    assert campaign_messages(twilio, before) == EXPECTED

    failed = download(page, "Failed recipients (CSV)")
    assert failed[0] == EXPORT_HEADER and [row[:3] for row in failed[1:]] == [
        ["'" + TWILIO_UNDELIVERED, "ERROR", "twilio_30003"]]  # formula-safe: a leading + is quoted
    invalid = download(page, "Invalid recipients (CSV)")
    assert invalid[0] == EXPORT_HEADER and [row[:2] for row in invalid[1:]] == [["1234", "INVALID"]]

    # Retry: the failed number is sent again (and fails again at Twilio).
    page.get_by_role("button", name="Retry failed messages").click()
    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign_id}$"))
    wait_until_sent(page)
    deadline = time.monotonic() + RECEIPT_TIMEOUT
    while campaign_messages(twilio, before) == EXPECTED:
        assert time.monotonic() < deadline, "the retry sent nothing"
        time.sleep(0.1)
    assert campaign_messages(twilio, before) - EXPECTED == Counter({(TWILIO_UNDELIVERED,
                                                             "Dear C, your appointment is tomorrow."): 1})
    reload_until(page, "#count-error", "1")
    expect(page.locator("#count-sent")).to_have_text("4")

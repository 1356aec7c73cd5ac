"""Stopping and resuming a campaign, and the suppression list, in a real browser.

Stop: an SMS campaign of ten numbers sent at 1 message a second to the local Twilio fake is still sending when the
officer presses "Stop sending"; the page says Stopped and the sent count no longer grows; resuming at once is refused
with a message to try again in a few seconds. Then it is halted (through the campaign service, as stats does when
too many messages bounce): the page says why, and resuming goes through a confirmation; it finishes, every number
sent exactly once.

Suppression list: an officer adds a number (a wrong one first, shown on its field), finds it on the list and with the
lookup, lifts it after a confirmation, and it is gone.

Every page passes ``check_page`` (axe-core, the CSP) and is photographed to var/screenshots/."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from postman.v1 import campaign_pb2, campaign_pb2_grpc, common_pb2
from postman_shared.grpc import client
from tests.browser.conftest import TWILIO_ACCOUNT
from tests.browser.journeys import add_twilio_account, create_campaign, sign_in, upload_recipients, wait_until_sent
from tests.browser.page_checks import check_page
from tests.fakes.twilio import FakeTwilio
from tests.support import service_identity

pytestmark = pytest.mark.e2e

TEST_NUMBER = "+6590000002"
NUMBERS = [f"+659123{n:04d}" for n in range(7001, 7011)]  # ten numbers only this test sends to
STILL_STOPPING = "Sending is still stopping"
RESUME_AFTER_STOP_SECONDS = 5
HALT_REASON = "12 of 97 messages sent bounced permanently (12.4%), more than 10 and 10%: check the recipient list"


def sent_to(twilio: FakeTwilio) -> Counter[str | None]:
    return Counter(message.to for message in twilio.sent if message.to in NUMBERS)


def shown_count(page: Page, name: str) -> int:
    return int(page.locator(f"#count-{name}").inner_text().strip())


def test_a_sending_campaign_is_stopped_then_resumed_and_every_number_gets_one_message(
        page: Page, outbox, officer_email: str, twilio: FakeTwilio, tmp_path: Path, system, database):
    assert not sent_to(twilio)
    recipients = tmp_path / "ten_numbers.csv"
    recipients.write_text("recipient,name\n" + "".join(f"{number},Person {n}\n" for n, number in enumerate(NUMBERS)))
    sign_in(page, officer_email, outbox)
    campaign_id = create_campaign(page, "Slow SMS", "SMS")
    page.get_by_label("Message").fill("Dear {{name}}, this is a test of stopping.")
    page.get_by_role("button", name="Save and continue").click()
    upload_recipients(page, recipients)
    page.get_by_role("link", name="Continue").click()
    add_twilio_account(page, TWILIO_ACCOUNT, TEST_NUMBER)
    page.get_by_label("Messages per second").fill("1")
    page.get_by_role("button", name="Send campaign").click()
    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign_id}$"))

    # Sending, one a second: stop once a couple have gone out.
    deadline = time.monotonic() + 30
    while sum(sent_to(twilio).values()) < 2:
        assert time.monotonic() < deadline, "the campaign did not start sending"
        time.sleep(0.1)
    expect(page.get_by_role("button", name="Stop sending")).to_be_visible()
    check_page(page, "campaign-sending")
    page.get_by_role("button", name="Stop sending").click()
    expect(page.get_by_role("status").filter(has_text="Sending stopped.")).to_be_visible()
    expect(page.locator("#status")).to_have_text("Stopped")
    # At once: the stop is still settling (what was being handed over is being recorded).
    page.get_by_role("button", name="Resume sending").click()
    expect(page.locator("#sending-error")).to_contain_text(STILL_STOPPING)
    expect(page.get_by_role("alert")).to_contain_text("Try again in a few seconds")
    check_page(page, "campaign-stopped-still-stopping")
    stopped_at = time.monotonic()

    # Nothing more goes out: the counts hold while it is stopped.
    page.goto(f"/campaigns/{campaign_id}")
    sent_then = shown_count(page, "sent") + shown_count(page, "error")
    at_twilio = sum(sent_to(twilio).values())
    assert 2 <= at_twilio < len(NUMBERS), at_twilio
    time.sleep(2.5)
    page.reload()
    assert shown_count(page, "sent") + shown_count(page, "error") == sent_then
    assert sum(sent_to(twilio).values()) == at_twilio
    expect(page.locator("#count-unsent")).to_have_text(str(len(NUMBERS) - sent_then))
    expect(page.locator("#stopped-words")).to_contain_text("(Singapore time)")
    check_page(page, "campaign-stopped")

    # Meanwhile it halts (as when too many messages bounce): the page says why, and resuming asks first.
    with database.session() as session:
        job_id = session.scalar(text("SELECT max(id) FROM jobs WHERE campaign_id = :c"), {"c": campaign_id})
    campaigns = service_identity.stub(system.env["CAMPAIGN_ADDR"], campaign_pb2_grpc.CampaignServiceStub)
    client.call(campaigns.HaltCampaign, campaign_pb2.HaltCampaignRequest(
        campaign_id=campaign_id, job_id=job_id, reason=HALT_REASON, counts=common_pb2.OutcomeCounts()))
    page.reload()
    expect(page.locator("#status")).to_have_text("Halted")
    expect(page.locator("#halted")).to_contain_text(HALT_REASON)
    expect(page.locator("#halted-at")).to_contain_text("(Singapore time)")
    check_page(page, "campaign-halted")

    # A few seconds after the stop, resume: confirmed, the rest go out, and nobody gets a message twice.
    time.sleep(max(0.0, RESUME_AFTER_STOP_SECONDS + 0.5 - (time.monotonic() - stopped_at)))
    page.locator("#sending").get_by_role("link", name="Resume sending").click()
    expect(page.get_by_role("heading", name="Resume a halted campaign?")).to_be_visible()
    expect(page.locator("#halt-reason")).to_have_text(HALT_REASON)
    check_page(page, "campaign-resume-halted")
    page.get_by_role("button", name="Resume sending").click()
    expect(page.get_by_role("alert").get_by_role("link")).to_have_attribute("href", "#confirm_halted")
    check_page(page, "campaign-resume-halted-error")
    page.get_by_label("I have checked the recipient list and want to send the remaining messages").check()
    page.get_by_role("button", name="Resume sending").click()
    expect(page.get_by_role("status").filter(has_text="Sending resumed")).to_be_visible()
    expect(page.locator("#status")).not_to_have_text("Halted")
    wait_until_sent(page, timeout_s=60)
    expect(page.locator("#count-unsent")).to_have_text("0")
    expect(page.locator("#count-total")).to_have_text(str(len(NUMBERS)))
    assert sent_to(twilio) == Counter(dict.fromkeys(NUMBERS, 1))
    check_page(page, "campaign-resumed-sent")


def test_an_officer_adds_a_number_to_their_suppression_list_finds_it_and_lifts_it(page: Page, outbox,
                                                                                  officer_email: str):
    sign_in(page, officer_email, outbox)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Suppression list").click()
    expect(page.get_by_role("heading", name="Suppression list", exact=True)).to_be_visible()
    expect(page.locator("#no-entries")).to_contain_text("nothing on your suppression list yet")
    check_page(page, "suppression-list-empty")

    # Add one: a number that is not one first, shown on its field.
    page.get_by_role("link", name="Add an address or number").click()
    page.get_by_role("radio", name="SMS", exact=True).check()
    page.get_by_label("Email address or mobile number").fill("12")
    page.get_by_role("button", name="Add to the list").click()
    summary = page.get_by_role("alert")
    expect(summary.get_by_role("link")).to_have_attribute("href", "#recipient")
    expect(page.locator("#recipient-error")).to_contain_text("is not a valid phone number")
    check_page(page, "suppression-add-error")
    page.get_by_label("Email address or mobile number").fill("9123 4567")
    page.get_by_label("Note (optional)").fill("Asked us by phone not to text her")
    page.get_by_role("button", name="Add to the list").click()

    expect(page.locator("#notice")).to_contain_text("The entry was added")
    row = page.locator("#entry-table tbody tr").filter(has_text="+6591234567")
    expect(row).to_contain_text("Added by hand")
    expect(row).to_contain_text("Asked us by phone not to text her")
    check_page(page, "suppression-list")

    # The lookup finds it, whatever way the number is written.
    page.get_by_label("Email address or mobile number").fill("+65 9123-4567")
    page.get_by_role("button", name="Look it up").click()
    expect(page.locator("#lookup-result")).to_contain_text("is on the suppression list")
    expect(page.locator("#lookup-table")).to_contain_text("+6591234567")
    check_page(page, "suppression-lookup")

    # Lift it: asked first.
    page.locator("#entry-table").get_by_role("link", name="Lift the entry for +6591234567").click()
    expect(page.get_by_role("heading", name="Lift this entry?")).to_be_visible()
    expect(page.locator("#lift-recipient")).to_have_text("+6591234567")
    check_page(page, "suppression-lift")
    page.get_by_role("button", name="Lift the entry").click()
    expect(page.locator("#notice")).to_contain_text("The entry was lifted")
    expect(page.locator("#entry-table")).to_have_count(0)
    expect(page.locator("#no-entries")).to_be_visible()
    check_page(page, "suppression-list-lifted")

"""Steps the browser tests share, done as an officer does them: by the labels and names on the page."""

from __future__ import annotations

import csv
import email
import io
import re
import time
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.browser.page_checks import check_page

PASSWORD_LINE = re.compile(r"^[A-Z0-9]{6}$")  # the one-time password email puts the password on a line of its own
ARRIVAL_TIMEOUT = 30.0  # seconds for an email to reach the outbox
EXPORT_HEADER = ["recipient", "status", "error_code", "updated_at"]  # the campaign page's CSV downloads


def click_below_frame(target: Locator) -> None:
    """Clicks a control below an email's sandboxed frame (the review page's Send button, the outbox's text).

    Playwright scrolls the control into view and clicks at once; Chromium routes that click by where the page's
    out-of-process frames were before the scroll, so it lands in the email's frame (which may follow one of its links)
    instead of on the control. Scrolled first and given two frames to paint, the click lands where a person's does."""
    target.scroll_into_view_if_needed()
    target.page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    target.page.wait_for_timeout(100)
    target.click()


def ask_for_password(page: Page, address: str, check: bool = False) -> None:
    page.goto("/sign-in")
    if check:
        check_page(page, "sign-in")
    page.get_by_label("Email address").fill(address)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()


def password_from_outbox_page(page: Page, check: bool = False) -> str:
    """From the password page, as a newcomer on `make run` does: the outbox link, the password, back."""
    if check:
        check_page(page, "sign-in-password")
    page.get_by_role("link", name="See your one-time password in the outbox").click()
    deadline = time.monotonic() + ARRIVAL_TIMEOUT
    while page.get_by_role("heading", name="No password email yet").is_visible():
        assert time.monotonic() < deadline, "the one-time password email did not reach the outbox page"
        page.get_by_role("link", name="reload this page").click()
    expect(page.get_by_role("heading", name="Your one-time password")).to_be_visible()
    lines = [line.strip() for line in page.locator("#password-email p").all_inner_texts()]
    passwords = [line for line in lines if PASSWORD_LINE.match(line)]
    assert len(passwords) == 1, f"no single password line on the outbox page: {lines}"
    if check:
        check_page(page, "outbox-password")
    page.get_by_role("link", name="Go back and enter the password").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    return passwords[0]


def password_from_outbox_folder(outbox: Path, address: str) -> str:
    """The newest one-time password to ``address`` in the outbox folder (for tests about something else)."""
    deadline = time.monotonic() + ARRIVAL_TIMEOUT
    while time.monotonic() < deadline:
        found = sorted((path.stat().st_mtime, path) for path in outbox.glob("otp-*.eml")
                       if email.message_from_bytes(path.read_bytes())["To"] == address)
        if found:
            message = email.message_from_bytes(found[-1][1].read_bytes())
            payload = message.get_payload(decode=True)
            assert isinstance(payload, bytes)
            text = re.sub("<[^>]+>", "\n", payload.decode())
            return next(line.strip() for line in text.splitlines() if PASSWORD_LINE.match(line.strip()))
        time.sleep(0.05)
    raise AssertionError(f"no one-time password email to {address} in {outbox}")


def enter_password(page: Page, password: str) -> None:
    page.get_by_label("One-time password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def sign_in(page: Page, address: str, outbox: Path) -> None:
    """Signed in as ``address`` (a new officer is made on first sign-in), on the campaign list."""
    ask_for_password(page, address)
    enter_password(page, password_from_outbox_folder(outbox, address))


def create_campaign(page: Page, name: str, channel: str, check: str | None = None) -> int:
    """From anywhere signed in: a new campaign of ``channel`` ("Email", "SMS", "Telegram"); on its message page."""
    page.goto("/campaigns/new")
    if check:
        check_page(page, check)
    page.get_by_label("Campaign name").fill(name)
    page.get_by_role("radio", name=channel, exact=True).check()
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", name="Write the message")).to_be_visible()
    found = re.search(r"/campaigns/(\d+)/template", page.url)
    assert found, page.url
    return int(found.group(1))


def write_html_message(page: Page, html: str) -> None:
    """Writes an email's message as HTML, as an officer who knows HTML does: with scripts on, the rich-text editor
    stands in for the HTML textarea, which its "Edit the HTML" button shows; without, the textarea is there."""
    page.wait_for_load_state("domcontentloaded")  # the editor's script has run
    edit_html = page.get_by_role("button", name="Edit the HTML")
    if edit_html.count() and edit_html.get_attribute("aria-pressed") != "true":
        edit_html.click()
    page.get_by_role("textbox", name="Message").fill(html)


def upload_recipients(page: Page, file: Path, scripts: bool = True) -> None:
    """On the recipients page: chooses the file and uploads it. With scripts the page sends it, follows the check
    and shows the page again with the result; without, the form posts and the officer follows "Check again"."""
    page.get_by_label("Recipient file").set_input_files(file)
    page.get_by_role("button", name="Upload file").click()
    result = page.locator("#upload-done, #file-error:not([hidden])")
    if not scripts:
        deadline = time.monotonic() + ARRIVAL_TIMEOUT
        expect(page.locator("#upload-done, #file-error:not([hidden]), #upload-processing")).to_be_visible()
        while page.locator("#upload-processing").is_visible():
            assert time.monotonic() < deadline, f"{file.name} was still being checked after {ARRIVAL_TIMEOUT}s"
            page.get_by_role("link", name="Check again").click()
    expect(result).to_be_visible(timeout=ARRIVAL_TIMEOUT * 1000)


def wait_until_sent(page: Page, timeout_s: float = 90.0) -> None:
    """On the campaign page: its script follows the counts and shows the page again when every message is done."""
    expect(page.locator("#live-progress")).to_have_attribute("data-finished", "true", timeout=timeout_s * 1000)


def download(page: Page, link: str) -> list[list[str]]:
    """Follows the download link named ``link``; the CSV file's rows."""
    with page.expect_download() as started:
        page.get_by_role("link", name=link).click()
    return list(csv.reader(io.StringIO(Path(started.value.path()).read_text(encoding="utf-8-sig"))))


def send_email_campaign(page: Page, name: str, file: Path) -> int:
    """Signed in: an email campaign made, its recipients uploaded and sent now; on its page once every message is
    done. Its id."""
    campaign_id = create_campaign(page, name, "Email")
    page.get_by_label("Subject").fill("Your appointment, {{name}}")
    write_html_message(page, "<p>Dear {{name}}, your appointment is on {{appointment}}.</p>")
    page.get_by_role("button", name="Save and continue").click()
    upload_recipients(page, file)
    page.get_by_role("link", name="Continue").click()
    click_below_frame(page.get_by_role("button", name="Send campaign"))
    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign_id}$"))
    wait_until_sent(page)
    return campaign_id


def campaign_email(outbox: Path, campaign_id: int, address: str) -> email.message.Message:
    """The newest email of the campaign to ``address`` in the outbox folder (``<campaign>-<message>.eml``)."""
    deadline = time.monotonic() + ARRIVAL_TIMEOUT
    while time.monotonic() < deadline:
        found = sorted((path.stat().st_mtime, path) for path in outbox.glob(f"{campaign_id}-*.eml")
                       if email.message_from_bytes(path.read_bytes())["To"] == address)
        if found:
            return email.message_from_bytes(found[-1][1].read_bytes())
        time.sleep(0.05)
    raise AssertionError(f"no email of campaign {campaign_id} to {address} in {outbox}")


def unsubscribe_link(message: email.message.Message) -> str:
    """The recipient's unsubscribe link, from the email's List-Unsubscribe header (the HTTP one)."""
    header = " ".join(str(message["List-Unsubscribe"] or "").split())
    found = re.search(r"<(https?://[^>]+)>", header)
    assert found, f"no HTTP link in List-Unsubscribe: {header!r}"
    return found.group(1)


def add_twilio_account(page: Page, account: dict[str, str], test_number: str) -> None:
    """On an SMS campaign's credentials page: a new Twilio account, checked with a test SMS; on the review page."""
    expect(page.get_by_role("heading", name="Choose the Twilio account")).to_be_visible()
    page.get_by_label("Account SID").fill(account["account_sid"])
    page.get_by_label("API key SID").fill(account["api_key"])
    page.get_by_label("API key secret").fill(account["api_secret"])
    page.get_by_label("Messaging Service SID").fill(account["messaging_service_sid"])
    page.get_by_label("Mobile number for the test SMS").fill(test_number)
    page.get_by_role("button", name="Send test SMS and use this account").click()
    expect(page.get_by_role("heading", name="Review and send")).to_be_visible()

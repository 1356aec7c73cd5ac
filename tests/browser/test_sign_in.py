"""Signing in and out in a real browser: with the keyboard only (Tab to each field, type, Enter), a wrong password
shown in the error summary linked to its field, and signing out ending the session."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.journeys import ask_for_password, enter_password, password_from_outbox_folder, sign_in
from tests.browser.page_checks import check_page

pytestmark = pytest.mark.e2e

MAX_TABS = 15  # a field further than this from the top of the page is too far for a keyboard user


def tab_to(page: Page, field_id: str) -> None:
    """Presses Tab until the field with ``field_id`` has the focus, as a keyboard user does."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == field_id:
            return
    raise AssertionError(f"#{field_id} did not get the focus after {MAX_TABS} presses of Tab on {page.url}")


def test_the_sign_in_forms_can_be_completed_with_the_keyboard_only(page: Page, outbox: Path, officer_email: str):
    page.goto("/campaigns")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/campaigns"))
    tab_to(page, "email")
    page.keyboard.type(officer_email)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    tab_to(page, "password")
    page.keyboard.type(password_from_outbox_folder(outbox, officer_email))
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/campaigns$"))


def test_a_wrong_password_is_shown_in_the_error_summary_linked_to_its_field(page: Page, outbox: Path,
                                                                            officer_email: str):
    ask_for_password(page, officer_email)
    page.get_by_label("One-time password").fill("AAAAAA")
    page.get_by_role("button", name="Sign in").click()

    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(summary.get_by_role("link")).to_have_attribute("href", "#password")
    expect(page).to_have_title(re.compile("^Error: "))
    check_page(page, "sign-in-password-error")
    summary.get_by_role("link").click()
    expect(page.get_by_label("One-time password")).to_be_focused()

    enter_password(page, password_from_outbox_folder(outbox, officer_email))  # a wrong try does not use it up


def test_signing_out_ends_the_session(page: Page, outbox: Path, officer_email: str):
    sign_in(page, officer_email, outbox)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    check_page(page, "signed-out")
    page.goto("/settings")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/settings"))

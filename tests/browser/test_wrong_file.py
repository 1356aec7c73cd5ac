"""A wrong recipient file in a real browser, with the page's scripts and without them (the plain form must do the
same job): tests/testdata/bad_ragged_row.csv is refused naming its line 3, in the error summary linked to the file
field and beside the field; a right file uploaded next replaces the error with the recipients."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.journeys import create_campaign, sign_in, upload_recipients
from tests.browser.page_checks import check_page
from tests.conftest import TESTDATA

pytestmark = pytest.mark.e2e

LINE_ERROR = "bad_ragged_row.csv: line 3 has 3 fields but the header has 2"


def test_a_wrong_file_shows_its_line_error(any_page: Page, scripts: bool, outbox, officer_email: str):
    page = any_page
    sign_in(page, officer_email, outbox)
    campaign_id = create_campaign(page, "Wrong file", "Email")
    page.goto(f"/campaigns/{campaign_id}/recipients")

    upload_recipients(page, TESTDATA / "bad_ragged_row.csv", scripts=scripts)
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text(LINE_ERROR)
    expect(summary.get_by_role("link")).to_have_attribute("href", "#file")
    expect(page.locator("#file-error")).to_contain_text(LINE_ERROR)
    expect(page).to_have_title(re.compile("^Error: "))
    check_page(page, f"recipients-wrong-file-{'scripts' if scripts else 'no-scripts'}")

    upload_recipients(page, TESTDATA / "email_basic.csv", scripts=scripts)
    expect(page.locator("#recipient-counts")).to_contain_text("5 recipients")
    expect(page.get_by_role("alert")).to_have_count(0)

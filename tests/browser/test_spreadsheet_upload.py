"""An officer uploads an Excel workbook on the recipients step, in a real browser: a sheet with a stray value is
refused naming its row and column; the corrected sheet (dates, a number, an empty row) is
counted. Screenshot: var/screenshots/spreadsheet-upload.png (docs/screenshots/spreadsheet-upload.png)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.journeys import create_campaign, sign_in, upload_recipients
from tests.browser.page_checks import check_page
from tests.unit.campaign.spreadsheet_files import xlsx_bytes

pytestmark = pytest.mark.e2e

ROW_ERROR = 'officers.xlsx: row 4, column D has a value ("stray") but the header (row 1) has no column there.'


def test_an_officer_uploads_an_xlsx_and_sees_a_row_error_then_the_recipients(page: Page, outbox, officer_email: str,
                                                                              tmp_path: Path):
    rows: list[list[object]] = [
        ["Recipient", "Name", "Appointment"],
        ["tan.ah.kow@example.gov.sg", "Tan Ah Kow", datetime.datetime(2026, 12, 1, 10, 0)],
        [],
        ["lim.bee@example.gov.sg", "Lim Bee", datetime.date(2026, 12, 2)],
        ["ref 6591234567", 6591234567.0, datetime.date(2026, 12, 3)],
    ]
    faulty = tmp_path / "officers.xlsx"
    faulty.write_bytes(xlsx_bytes([*rows[:3], [*rows[3], "stray"], rows[4]]))
    sign_in(page, officer_email, outbox)
    campaign_id = create_campaign(page, "Spreadsheet upload", "Email")
    page.goto(f"/campaigns/{campaign_id}/recipients")
    expect(page.locator("#file")).to_have_attribute("accept", ".csv,.tsv,.xlsx,.ods,text/csv,"
                                                    "text/tab-separated-values,application/vnd.openxmlformats-"
                                                    "officedocument.spreadsheetml.sheet,application/vnd.oasis."
                                                    "opendocument.spreadsheet")

    upload_recipients(page, faulty)
    expect(page.get_by_role("alert")).to_contain_text(ROW_ERROR)
    expect(page.locator("#file-error")).to_contain_text(ROW_ERROR)
    check_page(page, "spreadsheet-upload-row-error")

    fixed = tmp_path / "officers-fixed.xlsx"
    fixed.write_bytes(xlsx_bytes(rows))
    upload_recipients(page, fixed)
    expect(page.locator("#upload-done")).to_contain_text("officers-fixed.xlsx")
    expect(page.locator("#recipient-counts")).to_contain_text("3 recipients")
    expect(page.locator("#recipient-counts")).to_contain_text("1 is not valid")
    expect(page.get_by_role("alert")).to_have_count(0)
    check_page(page, "spreadsheet-upload")

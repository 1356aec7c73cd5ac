"""RecipientFile for SMS and Telegram: phone numbers stored in E.164, invalid ones kept as written and counted."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from postman_campaign.recipient_file import RecipientFile

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"


def phone_rows(data: bytes, channel: str = "SMS", **options: str) -> list[tuple[int, str, bool]]:
    recipient_file = RecipientFile(io.BytesIO(data), "numbers.csv", channel, **options)  # type: ignore[arg-type]
    return [(row.line, row.recipient, row.valid) for row in recipient_file.rows()]


@pytest.mark.parametrize("channel", ["SMS", "TELEGRAM"])
def test_the_singapore_testdata_file_is_read_as_its_readme_says(channel: str) -> None:
    rows = phone_rows((TESTDATA / "sms_sg_numbers.csv").read_bytes(), channel)

    assert rows == [
        (2, "+6591234567", True),
        (3, "+6591234567", True),
        (4, "+6581234567", True),
        (5, "+6562345678", True),
        (6, "1234", False),
        (7, "+447911123456", True),
    ]


def test_the_recipient_param_is_the_stored_number_and_other_values_stay_as_written() -> None:
    recipient_file = RecipientFile(io.BytesIO(b"Recipient,Name\r\n 9123 4567 , Tan \r\n"), "numbers.csv", "SMS")

    [row] = list(recipient_file.rows())

    assert row.params == {"recipient": "+6591234567", "name": " Tan "}


def test_an_invalid_number_is_kept_trimmed_as_written_so_the_person_can_find_it() -> None:
    assert phone_rows(b"recipient\n  9123-456  \ncall me\n") == [(2, "9123-456", False), (3, "call me", False)]


def test_the_phone_region_reads_numbers_written_without_a_country_code() -> None:
    data = b"recipient\n07911 123456\n91234567\n"

    assert phone_rows(data, phone_region="GB") == [(2, "+447911123456", True), (3, "91234567", False)]
    assert phone_rows(data) == [(2, "07911 123456", False), (3, "+6591234567", True)]


def test_blank_rows_are_still_skipped_for_phone_numbers() -> None:
    assert phone_rows(b"recipient,name\n\n,\n91234567,A\n,\n") == [(4, "+6591234567", True)]

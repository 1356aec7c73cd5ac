"""normalise_phone: phone numbers as people write them, stored in E.164 or refused."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from postman_shared.validators import is_valid_phone, normalise_phone

TESTDATA = Path(__file__).resolve().parents[1] / "testdata"

# tests/testdata/sms_sg_numbers.csv, as its README specifies it for the default region SG.
SG_NUMBERS = {
    "+65 9123 4567": "+6591234567",
    "91234567": "+6591234567",
    "6581234567": "+6581234567",
    "+6562345678": "+6562345678",
    "1234": None,
    "+44 7911 123456": "+447911123456",
}


def test_the_singapore_testdata_table_covers_every_row_of_the_file() -> None:
    with (TESTDATA / "sms_sg_numbers.csv").open(newline="") as file:
        assert [row["recipient"] for row in csv.DictReader(file)] == list(SG_NUMBERS)


@pytest.mark.parametrize(("raw", "expected"), SG_NUMBERS.items())
def test_singapore_testdata_numbers_normalise_as_documented(raw: str, expected: str | None) -> None:
    assert normalise_phone(raw, "SG") == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(+65) 8123-4567", "+6581234567"),
        ("+65.9123.4567", "+6591234567"),
        ("  9123 4567\u00a0", "+6591234567"),  # a no-break space, as spreadsheets export
        ("65 8123 4567", "+6581234567"),  # the country code without "+"
        ("001 44 7911 123456", "+447911123456"),  # Singapore's international call prefix
        ("6123 4567", "+6561234567"),  # a landline
    ],
)
def test_separators_and_ways_of_writing_a_country_code_are_understood(raw: str, expected: str) -> None:
    assert normalise_phone(raw, "SG") == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "+",
        "1234",
        "9123456",  # one digit short
        "912345678",  # one digit too many
        "+6512345678",  # the right length in a range no operator holds
        "9123456x",
        "91234567 call after 6pm",  # phonenumbers alone would ignore the words
        "9123 4567 ext. 12",  # an SMS cannot go to an extension
        "tel:+6591234567",
        "1-800-FLOWERS",  # letters are not read as keypad digits
        "+" + "9" * 30,
    ],
)
def test_what_is_not_a_phone_number_is_invalid(raw: str) -> None:
    assert normalise_phone(raw, "SG") is None
    assert not is_valid_phone(raw, "SG")


def test_the_region_decides_how_a_number_without_country_code_is_read() -> None:
    assert normalise_phone("07911 123456", "GB") == "+447911123456"
    assert normalise_phone("07911 123456", "SG") is None
    assert normalise_phone("91234567", "GB") is None


def test_a_number_with_its_country_code_is_read_the_same_in_any_region() -> None:
    assert normalise_phone("+65 9123 4567", "GB") == normalise_phone("+65 9123 4567", "US") == "+6591234567"


def test_an_unknown_region_leaves_only_international_numbers_valid() -> None:
    assert normalise_phone("91234567", "ZZ") is None
    assert normalise_phone("+6591234567", "ZZ") == "+6591234567"

"""RecipientFile: reading a recipient CSV into normalised, validated rows, or a clear error naming the line."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pytest

from postman_campaign.recipient_file import FIELD_SIZE_LIMIT, LINE_LENGTH_LIMIT, RecipientFile, RecipientFileError

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"


def open_testdata(name: str, **options: object) -> RecipientFile:
    return RecipientFile(io.BytesIO((TESTDATA / name).read_bytes()), name, **options)  # type: ignore[arg-type]


def read(data: bytes, filename: str = "recipients.csv", **options: object) -> RecipientFile:
    return RecipientFile(io.BytesIO(data), filename, **options)  # type: ignore[arg-type]


def rejection(recipient_file: RecipientFile) -> RecipientFileError:
    with pytest.raises(RecipientFileError) as caught:
        list(recipient_file.rows())
    return caught.value


class Trickle(io.RawIOBase):
    """A stream that returns one byte per read, so every character and line ending is split across reads."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        byte = self._data.read(1)
        buffer[: len(byte)] = byte
        return len(byte)


# -- good files --------------------------------------------------------------------------------------------------


def test_basic_file_yields_every_recipient_with_its_line_and_params() -> None:
    recipient_file = open_testdata("email_basic.csv")

    rows = list(recipient_file.rows())

    assert recipient_file.read_header() == ["recipient", "name", "appointment"]
    assert [row.line for row in rows] == [2, 3, 4, 5, 6]
    assert all(row.valid for row in rows)
    assert rows[0].recipient == "officer0@example.gov.sg"
    assert rows[0].params == {
        "recipient": "officer0@example.gov.sg",
        "name": "Tan Ah Kow",
        "appointment": "2026-12-01 10:00",
    }
    assert recipient_file.rows_read == 5


def test_excel_export_with_bom_crlf_and_unicode_is_read_exactly() -> None:
    recipient_file = open_testdata("email_excel_export.csv")

    rows = list(recipient_file.rows())

    assert recipient_file.read_header() == ["recipient", "name", "amount due"]
    assert [(row.recipient, row.valid) for row in rows] == [
        ("jane.doe@example.gov.sg", True),
        ("lim@example.gov.sg", True),
        ("kumar@example.gov.sg", True),
    ]
    assert rows[0].params == {"recipient": "jane.doe@example.gov.sg", "name": "Jane, Doe", "amount due": "$1,200.50"}
    assert rows[1].params["name"] == "林志明"
    assert rows[2].params["name"] == "குமார்"


def test_invalid_addresses_are_yielded_as_invalid_not_rejected() -> None:
    rows = list(open_testdata("bad_invalid_emails.csv").rows())

    assert [(row.line, row.recipient, row.valid) for row in rows] == [
        (2, "not-an-email", False),
        (3, "b@@example.gov.sg", False),
        (4, "c@example.gov.sg", True),
        (5, "", False),
    ]
    assert rows[3].params == {"recipient": "", "name": "D"}


def test_values_other_than_the_recipient_are_kept_as_written() -> None:
    rows = list(read(b"Recipient,Name\n A@B.SG ,  Mixed Case  \n").rows())

    assert rows[0].params == {"recipient": "a@b.sg", "name": "  Mixed Case  "}


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_every_kind_of_line_ending_is_read(newline: bytes) -> None:
    data = newline.join([b"recipient,name", b"a@example.sg,A", b"b@example.sg,B"]) + newline

    rows = list(read(data).rows())

    assert [(row.line, row.recipient, row.params["name"]) for row in rows] == [
        (2, "a@example.sg", "A"),
        (3, "b@example.sg", "B"),
    ]


def test_a_row_with_a_quoted_newline_is_numbered_by_the_line_it_starts_on() -> None:
    data = b'recipient,address\r\na@example.sg,"1 Street\r\n#01-01"\r\nb@example.sg,"2 Road"\r\n'

    rows = list(read(data).rows())

    assert [(row.line, row.params["address"]) for row in rows] == [(2, "1 Street\r\n#01-01"), (4, "2 Road")]


def test_blank_lines_and_rows_of_empty_cells_are_skipped_without_shifting_line_numbers() -> None:
    data = b"\nrecipient,name\n\na@example.sg,A\n,\n\nb@example.sg,B\n,\n,,,\n\n"
    recipient_file = read(data)

    rows = list(recipient_file.rows())

    assert [(row.line, row.recipient) for row in rows] == [(4, "a@example.sg"), (7, "b@example.sg")]
    assert recipient_file.rows_read == 2


def test_a_file_without_a_final_line_ending_keeps_its_last_row() -> None:
    rows = list(read(b"recipient\r\na@example.sg\r\nb@example.sg").rows())

    assert [row.recipient for row in rows] == ["a@example.sg", "b@example.sg"]


def test_reading_one_byte_at_a_time_gives_the_same_rows() -> None:
    data = (TESTDATA / "email_excel_export.csv").read_bytes() + 'x@example.sg,"多\r\n行",$1\r\n'.encode()
    expected = [(row.line, row.params) for row in read(data).rows()]

    rows = [(row.line, row.params) for row in RecipientFile(Trickle(data), "trickle.csv").rows()]  # type: ignore[arg-type]

    assert rows == expected
    assert rows[-1] == (5, {"recipient": "x@example.sg", "name": "多\r\n行", "amount due": "$1"})


def test_required_keys_are_matched_ignoring_case() -> None:
    header = read(b"Recipient,NAME\na@example.sg,A\n", required_keys=["Name", "recipient"]).read_header()

    assert header == ["recipient", "name"]


def test_rows_read_counts_the_rows_yielded_so_far() -> None:
    recipient_file = open_testdata("email_basic.csv")
    rows = recipient_file.rows()

    next(rows)
    next(rows)

    assert recipient_file.rows_read == 2


# -- files that cannot be used -----------------------------------------------------------------------------------


def test_empty_file_is_rejected() -> None:
    error = rejection(open_testdata("bad_empty.csv"))

    assert str(error) == "bad_empty.csv is empty."
    assert error.line is None


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf", b"\r\n\r\n"], ids=["only a BOM", "only blank lines"])
def test_a_file_with_nothing_but_blank_space_is_empty(data: bytes) -> None:
    assert "is empty" in str(rejection(read(data)))


def test_header_without_rows_is_rejected() -> None:
    error = rejection(open_testdata("bad_header_only.csv"))

    assert str(error) == "bad_header_only.csv has a header but no recipients."


def test_header_followed_by_blank_lines_only_has_no_recipients() -> None:
    assert "has a header but no recipients" in str(rejection(read(b"recipient,name\r\n\r\n,\r\n")))


def test_file_without_a_recipient_column_is_rejected_listing_its_columns() -> None:
    error = rejection(open_testdata("bad_no_recipient_column.csv"))

    assert 'needs a column named "recipient"' in str(error)
    assert '"email", "name"' in str(error)
    assert str(error).startswith("bad_no_recipient_column.csv")
    assert error.line == 1


def test_duplicate_header_is_rejected_naming_the_column() -> None:
    error = rejection(open_testdata("bad_duplicate_header.csv"))

    assert 'the column "name" twice, in columns 2 and 3' in str(error)
    assert str(error).startswith("bad_duplicate_header.csv")


def test_headers_are_compared_after_trimming() -> None:
    assert 'the column "name" twice' in str(rejection(read(b"recipient, name ,Name\na@b.sg,1,2\n")))


def test_empty_header_cell_is_rejected_naming_its_column_number() -> None:
    error = rejection(read(b"recipient,,name\na@example.sg,x,A\n"))

    assert "column 2 of the header (line 1) has no name" in str(error)


def test_missing_template_keys_are_listed() -> None:
    error = rejection(read(b"recipient,name\na@example.sg,A\n", required_keys=["name", "clinic", "Date"]))

    assert "the template uses {{ clinic }}, {{ date }} but the file has no column" in str(error)
    assert '"clinic", "date"' in str(error)


def test_ragged_row_reports_its_line_number() -> None:
    error = rejection(open_testdata("bad_ragged_row.csv"))

    assert "bad_ragged_row.csv: line 3 has 3 fields but the header has 2" in str(error)
    assert error.line == 3


def test_row_with_too_few_fields_is_ragged() -> None:
    error = rejection(read(b"recipient,name,clinic\na@example.sg,A\n"))

    assert "line 2 has 2 fields but the header has 3" in str(error)


def test_latin1_file_is_rejected_naming_the_line_and_asking_for_utf8() -> None:
    error = rejection(open_testdata("bad_latin1.csv"))

    assert "bad_latin1.csv is not in UTF-8: line 2" in str(error)
    assert "CSV UTF-8" in str(error)
    assert error.line == 2


def test_bad_byte_deep_in_a_large_file_names_its_line() -> None:
    rows = [b"recipient,name"] + [b"r%d@example.sg,Name %d" % (i, i) for i in range(20_000)]
    rows[12_345] = b"r@example.sg,Jos\xe9"
    recipient_file = read(b"\r\n".join(rows))

    error = rejection(recipient_file)

    assert "line 12346" in str(error)
    assert recipient_file.rows_read == 12_344  # every row before it was read, none after


def test_bad_byte_in_the_header_names_line_one() -> None:
    assert "is not in UTF-8: line 1" in str(rejection(read(b"recipient,n\xe9\na@example.sg,x\n")))


def test_bad_byte_after_a_lone_carriage_return_names_the_next_line() -> None:
    assert "is not in UTF-8: line 3" in str(rejection(read(b"recipient,name\ra@b.sg,x\r\xe9@b.sg,y\r")))


def test_truncated_character_at_the_end_of_the_file_is_not_utf8() -> None:
    error = rejection(RecipientFile(Trickle("recipient,name\na@b.sg,林".encode()[:-1]), "cut.csv"))  # type: ignore[arg-type]

    assert "cut.csv is not in UTF-8: line 2" in str(error)


def test_field_over_the_size_limit_names_its_line() -> None:
    data = b'recipient,note\na@example.sg,short\nb@example.sg,"' + b"x" * (FIELD_SIZE_LIMIT + 1) + b'"\n'

    error = rejection(read(data))

    assert "line 3 has a field larger than 1 MB" in str(error)
    assert error.line == 3


def test_unclosed_quote_names_the_line_it_starts_on() -> None:
    error = rejection(read(b'recipient,name\na@example.sg,A\nb@example.sg,"B\nc@example.sg,C\n'))

    assert "the quoted field that starts on line 3 is never closed" in str(error)
    assert error.line == 3


def test_stray_quote_after_a_quoted_field_names_its_line() -> None:
    error = rejection(read(b'recipient,name\na@example.sg,"A"x\n'))

    assert 'line 2 has a quote (") inside a quoted field' in str(error)


def test_a_line_longer_than_the_limit_is_rejected_before_it_is_held_whole() -> None:
    data = b"recipient,name\n" + b"a" * (LINE_LENGTH_LIMIT + 200_000)

    error = rejection(read(data))

    assert "line 2 is longer than 8 MB" in str(error)


def test_a_channel_without_recipient_rules_is_refused() -> None:
    with pytest.raises(ValueError, match="FAX"):
        read(b"recipient\n91234567\n", channel="FAX")


# -- streaming ---------------------------------------------------------------------------------------------------


class GeneratedCsv(io.RawIOBase):
    """A recipient file of ``size`` bytes made up as it is read, with every data row the same length."""

    HEADER = b"recipient,name,note\r\n"
    NOTE = b"Please bring your identity card. " * 30  # long rows: many bytes, few rows, a quick test
    ROW_LENGTH = len(b"officer000000001@example.gov.sg,Officer 000000001,\r\n") + len(NOTE)

    def __init__(self, size: int) -> None:
        self.rows = (size - len(self.HEADER)) // self.ROW_LENGTH
        self.bytes_produced = 0
        self._pending = bytearray(self.HEADER)
        self._next_row = 1

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        while len(self._pending) < len(buffer) and self._next_row <= self.rows:
            i = self._next_row
            self._pending += b"officer%09d@example.gov.sg,Officer %09d,%s\r\n" % (i, i, self.NOTE)
            self._next_row += 1
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        del self._pending[:count]
        self.bytes_produced += count
        return count

    def bytes_through_line(self, line: int) -> int:
        return len(self.HEADER) + (line - 1) * self.ROW_LENGTH


def test_a_50_mb_file_is_read_as_a_stream() -> None:
    size = 50 * 1024 * 1024
    stream = GeneratedCsv(size)
    recipient_file = RecipientFile(stream, "large.csv")  # type: ignore[arg-type]
    furthest_ahead = 0
    last = None

    tracemalloc.start()
    try:
        for row in recipient_file.rows():
            furthest_ahead = max(furthest_ahead, stream.bytes_produced - stream.bytes_through_line(row.line))
            last = row
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert recipient_file.rows_read == stream.rows > 50_000
    assert last is not None and last.valid and last.line == stream.rows + 1
    assert furthest_ahead <= 256 * 1024  # never more than a few chunks read ahead of the row being yielded
    assert peak < 4 * 1024 * 1024  # a small fraction of the 50 MB file

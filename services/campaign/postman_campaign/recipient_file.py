"""Reading a recipient file: a CSV whose header names the template's keys and one row per recipient.

A tab-separated file (.tsv) is read the same way, and a spreadsheet (.xlsx, .ods: its first sheet) is read by
``spreadsheets`` as rows of text that go through the same checks; its errors say "row N, column <name>". The
kind of file is told by its first bytes (a spreadsheet is a zip archive) and its name's extension.

The file is streamed (decoded incrementally, parsed by the csv module, a row at a time), so its size does not decide
the memory used. Every problem that makes the file unusable is a ``RecipientFileError`` whose message names the file
and the line and column a person should look at; a recipient that is merely not a valid address is yielded with
``valid=False`` so it is stored and counted, but never sent.

Recipients are email addresses for the EMAIL channel and phone numbers for SMS and TELEGRAM: a valid number is
stored in E.164 (numbers without a country code are read in the file's ``phone_region``), an invalid one as written
(trimmed) so the person can find it in their file.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import shutil
import tempfile
import typing
import zipfile
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

from postman_campaign.spreadsheets import (
    OLE_MAGIC,
    ZIP_MAGIC,
    CellError,
    SheetError,
    SheetRow,
    column_letter,
    ods_rows,
    spreadsheet_kind,
    xlsx_rows,
)
from postman_shared.validators import is_valid_email, normalise_email, normalise_phone

RECIPIENT_KEY = "recipient"
# The csv module refuses fields over its limit (128 KiB by default); 1 MiB is roomy for any template value and still
# bounds what one unclosed quote can make us hold.
FIELD_SIZE_LIMIT = 1024 * 1024
# A physical line is held whole before it is parsed, so it needs a bound too (room for several maximal fields).
LINE_LENGTH_LIMIT = 8 * FIELD_SIZE_LIMIT
CHUNK_SIZE = 64 * 1024

SAVE_AS_UTF8 = 'save it as UTF-8 (in Excel: "Save As", then "CSV UTF-8 (Comma delimited)") and upload it again'


class RecipientFileError(Exception):
    """A file that cannot be used. str(error) is a sentence a person understands and it names the file and, where
    there is one, the line (1-based, the header is line 1) and the column/field."""

    line: int | None

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(slots=True)
class RecipientRow:
    line: int  # line of the file on which this row starts
    recipient: str  # normalised: stripped of surrounding white space; for EMAIL also lower-cased; for SMS and
    # TELEGRAM the E.164 number when valid
    params: dict[str, str]  # lower-cased header -> value as in the file (except "recipient", normalised)
    valid: bool  # False for a recipient that is not a valid address (stored and counted invalid, never sent)


PHONE_CHANNELS = ("SMS", "TELEGRAM")
TAB_SEPARATED_EXTENSIONS = (".tsv", ".tab")
SPREADSHEET_NAMES = {".xlsx": "Excel workbook", ".xlsm": "Excel workbook", ".ods": "OpenDocument spreadsheet"}
# A spreadsheet bigger than this is copied to a temporary file rather than held, when its stream cannot seek.
SPOOL_MEMORY_BYTES = 4 * 1024 * 1024
DEFAULT_PHONE_REGION = "SG"

# Reads one recipient cell: (the recipient as stored, whether it can be sent to).
RecipientRule = Callable[[str], tuple[str, bool]]


def email_recipient(raw: str) -> tuple[str, bool]:
    address = normalise_email(raw)
    return address, is_valid_email(address)


def phone_recipient_rule(region: str) -> RecipientRule:
    """Phone numbers read in ``region``: the E.164 number when valid, else the cell as written (trimmed)."""

    def phone_recipient(raw: str) -> tuple[str, bool]:
        number = normalise_phone(raw, region)
        return (number, True) if number is not None else (raw.strip(), False)

    return phone_recipient


class RecipientFile:
    """One recipient file, read once from start to end: ``read_header()`` (optional), then ``rows()``."""

    def __init__(
        self,
        stream: typing.BinaryIO,
        filename: str,
        channel: str = "EMAIL",
        required_keys: Collection[str] = (),
        phone_region: str = DEFAULT_PHONE_REGION,
    ) -> None:
        self._recipient_of: RecipientRule
        if channel == "EMAIL":
            self._recipient_of = email_recipient
        elif channel in PHONE_CHANNELS:
            self._recipient_of = phone_recipient_rule(phone_region)
        else:
            raise ValueError(f"recipient files for the {channel} channel are not supported")
        self._stream = stream
        self.filename = filename
        self._required_keys = [key.strip().lower() for key in required_keys]
        self._header: list[str] | None = None
        self._reader: typing.Any = None  # the csv reader, created with the header
        self._lines_decoded = 0  # complete physical lines handed to the csv reader
        self.rows_read = 0
        self._delimiter = ","
        self._sheet: Iterator[SheetRow] | None = None  # a spreadsheet's rows, once the file is known to be one
        self._spool: typing.BinaryIO | None = None  # a copy of a spreadsheet whose stream cannot seek
        self._sheet_rows_iter: Iterator[SheetRow] = iter(())  # the sheet's rows below the header
        self._header_row = 0

    def close(self) -> None:
        """Lets go of a spreadsheet's open archive and temporary copy (a CSV holds nothing)."""
        if self._sheet is not None:
            self._sheet.close()  # type: ignore[attr-defined]
        if self._spool is not None:
            self._spool.close()

    def read_header(self) -> list[str]:
        """The header's keys, lower-cased and in file order, after checking them. Raises RecipientFileError."""
        if self._header is not None:
            return self._header
        self._open()
        if self._sheet is not None:
            return self._read_sheet_header()
        csv.field_size_limit(FIELD_SIZE_LIMIT)  # process-wide; every reader here wants the same limit
        reader = self._reader = csv.reader(itertools.chain.from_iterable(self._line_batches()), strict=True,
                                           delimiter=self._delimiter)
        while True:  # blank lines before the header are skipped
            line = reader.line_num + 1
            try:
                cells = next(reader, None)
            except csv.Error as error:
                raise self._csv_error(error, record_line=line) from None
            if cells is None:
                raise RecipientFileError(f"{self.filename} is empty.", line=None)
            if any(cells):
                break
        self._header = self._checked_header(cells, line=line)
        return self._header

    def rows(self) -> Iterator[RecipientRow]:
        """The recipients, in file order; blank lines are skipped. Raises RecipientFileError at the first problem."""
        keys = self.read_header()
        if self._sheet is not None:
            yield from self._sheet_rows(keys)
            return
        width = len(keys)
        recipient_at = keys.index(RECIPIENT_KEY)
        recipient_of = self._recipient_of
        reader = self._reader
        filename = self.filename
        previous_line = reader.line_num
        try:
            for fields in reader:
                line = previous_line + 1
                previous_line = reader.line_num
                if len(fields) != width:
                    if not any(fields):
                        continue  # a blank line (Excel leaves some at the end)
                    raise RecipientFileError(
                        f"{filename}: line {line} has {len(fields)} fields but the header has {width}. "
                        f"Check for a missing or extra {self._separator}, or a value with a {self._separator} that "
                        "is not in quotes.",
                        line=line,
                    )
                recipient, valid = recipient_of(fields[recipient_at])
                if not recipient and not any(fields):
                    continue  # a row of empty cells, as Excel writes a blank row
                params = dict(zip(keys, fields, strict=True))
                params[RECIPIENT_KEY] = recipient
                self.rows_read += 1
                yield RecipientRow(line, recipient, params, valid)
        except csv.Error as error:
            raise self._csv_error(error, record_line=previous_line + 1) from None
        if self.rows_read == 0:
            raise RecipientFileError(f"{filename} has a header but no recipients.", line=None)

    # -- which kind of file -------------------------------------------------------------------------------------

    @property
    def _separator(self) -> str:
        return "tab" if self._delimiter == "\t" else "comma"

    def _open(self) -> None:
        """Tells a spreadsheet from a text file by its first bytes, then by its name; opens a spreadsheet's rows."""
        head = b""
        while len(head) < len(ZIP_MAGIC) and (chunk := self._stream.read(len(ZIP_MAGIC) - len(head))):
            head += chunk
        extension = "." + self.filename.rpartition(".")[2].lower() if "." in self.filename else ""
        expected = SPREADSHEET_NAMES.get(extension)
        if head.startswith(ZIP_MAGIC):
            self._open_spreadsheet(head, expected)
            return
        if head.startswith(OLE_MAGIC):
            raise RecipientFileError(
                f"{self.filename} is an Excel 97-2003 workbook (.xls), which cannot be read. In Excel, use "
                '"Save As" and choose "Excel Workbook (.xlsx)" or "CSV UTF-8", then upload it again.')
        if expected is not None:
            raise RecipientFileError(
                f"{self.filename} is not a readable {expected}: its content is not a spreadsheet (it may have been "
                "renamed). Open it in your spreadsheet program, save it again and upload it again.")
        if extension in TAB_SEPARATED_EXTENSIONS:
            self._delimiter = "\t"
        self._stream = typing.cast(typing.BinaryIO, _Prefixed(head, self._stream))

    def _open_spreadsheet(self, head: bytes, expected: str | None) -> None:
        file = self._seekable(head)
        try:
            kind = spreadsheet_kind(zipfile.ZipFile(file))
        except (zipfile.BadZipFile, OSError, KeyError) as error:
            raise RecipientFileError(
                f"{self.filename} is not a readable {expected or 'spreadsheet'}: the file is damaged ({error}). "
                "Open it in your spreadsheet program, save it again and upload it again.") from None
        if kind is None:
            raise RecipientFileError(
                f"{self.filename} is a zip archive but not an Excel workbook (.xlsx) or an OpenDocument spreadsheet "
                "(.ods). Upload the spreadsheet itself, or a CSV file.")
        file.seek(0)
        self._sheet = (xlsx_rows if kind == "xlsx" else ods_rows)(file, self.filename)

    def _seekable(self, head: bytes) -> typing.BinaryIO:
        """The stream itself when it can seek (a local file), else a temporary copy (an S3 body): a zip archive's
        directory is at its end. The copy stays on disk past a few MB, so memory stays flat."""
        stream = self._stream
        if getattr(stream, "seekable", None) is not None and stream.seekable():
            stream.seek(0)
            return stream
        spool = self._spool = typing.cast(typing.BinaryIO,
                                          tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES))
        spool.write(head)
        shutil.copyfileobj(stream, spool, CHUNK_SIZE)
        spool.seek(0)
        return spool

    # -- a spreadsheet's rows -----------------------------------------------------------------------------------

    def _sheet_cells(self) -> Iterator[SheetRow]:
        """The sheet's rows, its problems said as RecipientFileErrors that name the row and the column."""
        assert self._sheet is not None
        try:
            for number, cells in self._sheet:
                if cells and max(map(len, cells)) > FIELD_SIZE_LIMIT:  # checked in C, a row at a time
                    column = next(column for column, cell in enumerate(cells, start=1)
                                  if len(cell) > FIELD_SIZE_LIMIT)
                    raise CellError(self.filename, number, column,
                                    f"has more than {FIELD_SIZE_LIMIT // (1024 * 1024)} MB of text.")
                yield number, cells
        except CellError as error:
            name = (self._header[error.column - 1] if self._header and error.column is not None
                    and error.column <= len(self._header) else column_letter(error.column or 1))
            raise RecipientFileError(f"{self.filename}: row {error.row}, column {name} {error.problem}",
                                     line=error.row) from None
        except SheetError as error:
            raise RecipientFileError(str(error), line=error.row) from None

    def _read_sheet_header(self) -> list[str]:
        self._sheet_rows_iter = self._sheet_cells()
        first = next(self._sheet_rows_iter, None)  # empty rows are never yielded: this is the first with a value
        if first is None:
            raise RecipientFileError(f"{self.filename} is empty: its first sheet has no values.", line=None)
        row, cells = first
        self._header = self._checked_header(cells, line=row, place="row")
        self._header_row = row
        return self._header

    def _sheet_rows(self, keys: list[str]) -> Iterator[RecipientRow]:
        width = len(keys)
        recipient_at = keys.index(RECIPIENT_KEY)
        recipient_of = self._recipient_of
        filename = self.filename
        for number, cells in self._sheet_rows_iter:
            if len(cells) > width:
                extra = next(column for column in range(width + 1, len(cells) + 1) if cells[column - 1])
                raise RecipientFileError(
                    f"{filename}: row {number}, column {column_letter(extra)} has a value "
                    f'("{cells[extra - 1][:40]}") but the header (row {self._header_row}) has no column there. '
                    "Give the column a name in the header, or delete the value.",
                    line=number,
                )
            if len(cells) < width:
                cells.extend([""] * (width - len(cells)))
            recipient, valid = recipient_of(cells[recipient_at])
            params = dict(zip(keys, cells, strict=True))
            params[RECIPIENT_KEY] = recipient
            self.rows_read += 1
            yield RecipientRow(number, recipient, params, valid)
        if self.rows_read == 0:
            raise RecipientFileError(f"{filename} has a header but no recipients.", line=None)

    # -- reading ------------------------------------------------------------------------------------------------

    def _line_batches(self) -> Iterator[list[str]]:
        """The file's physical lines as text (each with its line ending), decoded a chunk at a time.

        Each string given to the csv reader must be exactly one line: the reader ends a record at the end of every
        string it is given, and counts strings as lines. Text after the last line ending waits for the next chunk.
        """
        decoder = codecs.getincrementaldecoder("utf-8-sig")()
        pending = ""
        while True:
            chunk = self._stream.read(CHUNK_SIZE)
            final = not chunk
            try:
                text = pending + decoder.decode(chunk, final=final)
            except UnicodeDecodeError as error:
                # Hand over the lines before the bad byte first: an earlier problem should be reported first, and
                # the count of lines handed over gives the bad byte's line.
                text = pending + error.object[: error.start].decode("utf-8")
                yield self._split_lines(text, max(text.rfind("\n"), text.rfind("\r")) + 1)
                line = self._lines_decoded + 1
                raise RecipientFileError(
                    f"{self.filename} is not in UTF-8: line {line} has characters that cannot be read. "
                    f"Please {SAVE_AS_UTF8}.",
                    line=line,
                ) from None
            if final:
                yield self._split_lines(text, len(text))
                return
            # A line ends at "\n", "\r\n" or a lone "\r" (old Mac files); a "\r" at the very end may be the first
            # half of a "\r\n" still to come, so it waits.
            end = max(text.rfind("\n"), text.rfind("\r", 0, len(text) - 1)) + 1
            yield self._split_lines(text, end)
            pending = text[end:]
            if len(pending) > LINE_LENGTH_LIMIT:
                line = self._lines_decoded + 1
                raise RecipientFileError(
                    f"{self.filename}: line {line} is longer than {LINE_LENGTH_LIMIT // (1024 * 1024)} MB. "
                    "Is this really a CSV file?",
                    line=line,
                )

    def _split_lines(self, text: str, end: int) -> list[str]:
        lines = io.StringIO(text[:end], newline="").readlines() if end else []
        self._lines_decoded += len(lines)
        return lines

    # -- checking -----------------------------------------------------------------------------------------------

    def _checked_header(self, cells: list[str], line: int, place: str = "line") -> list[str]:
        """Checks the header; ``place`` is "line" in a text file, "row" in a spreadsheet (columns are letters)."""
        keys = [cell.strip().lower() for cell in cells]
        seen: dict[str, int] = {}
        name_of: Callable[[int], str] = column_letter if place == "row" else str
        for column, key in enumerate(keys, start=1):
            if not key:
                raise RecipientFileError(
                    f"{self.filename}: column {name_of(column)} of the header ({place} {line}) has no name. "
                    "Give every column a name, or delete the empty column.",
                    line=line,
                )
            if key in seen:
                raise RecipientFileError(
                    f'{self.filename}: the header ({place} {line}) has the column "{key}" twice, in columns '
                    f"{name_of(seen[key])} and {name_of(column)} (column names are compared ignoring capitals). "
                    "Rename or remove one of them.",
                    line=line,
                )
            seen[key] = column
        if RECIPIENT_KEY not in seen:
            found = ", ".join(f'"{cell.strip()}"' for cell in cells)
            raise RecipientFileError(
                f'{self.filename} needs a column named "{RECIPIENT_KEY}" for the addresses to send to; '
                f"the header ({place} {line}) has the columns {found}.",
                line=line,
            )
        missing = [key for key in dict.fromkeys(self._required_keys) if key not in seen]
        if missing:
            uses = ", ".join(f"{{{{ {key} }}}}" for key in missing)
            columns = ", ".join(f'"{key}"' for key in missing)
            raise RecipientFileError(
                f"{self.filename}: the template uses {uses} but the file has no column {columns}. "
                "Add the column or change the template.",
                line=line,
            )
        return keys

    def _csv_error(self, error: csv.Error, record_line: int) -> RecipientFileError:
        """The csv module's complaint about the record that starts on ``record_line``, said for a person."""
        reason = str(error)
        line = record_line
        if reason.startswith("field larger than field limit"):
            message = (
                f"line {line} has a field larger than {FIELD_SIZE_LIMIT // (1024 * 1024)} MB. "
                'Is a quote (") never closed?'
            )
        elif reason == "unexpected end of data":
            message = f'the quoted field that starts on line {line} is never closed. Add the closing quote (").'
        elif "expected after" in reason:
            line = self._reader.line_num
            message = (
                f'line {line} has a quote (") inside a quoted field. Write a quote inside a quoted field as two '
                'quotes (""), or remove the quotes around the field.'
            )
        else:
            kind = "TSV" if self._separator == "tab" else "CSV"
            message = f"line {line} cannot be read as {kind} ({reason})."
        return RecipientFileError(f"{self.filename}: {message}", line=line)


class _Prefixed:
    """A stream whose first bytes were already read (to tell the kind of file): they are read again first."""

    def __init__(self, head: bytes, stream: typing.BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head
        return self._stream.read(size)

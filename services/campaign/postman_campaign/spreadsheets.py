"""Spreadsheets as recipient files: the first sheet of an Excel workbook (.xlsx) or of an OpenDocument spreadsheet
(.ods), read as a stream of rows of text, so that ``RecipientFile`` checks them exactly as it checks a CSV file.

Each reader yields ``(row number, cells)``: the row number as the spreadsheet program shows it (empty rows are not
yielded but still counted) and the cells as text, without the empty cells at the end of the row. A cell's text is
what an officer means by it rather than how it is stored:

- a formula gives its last calculated value (saved in the file by the spreadsheet program);
- a date gives ``yyyy-mm-dd``, a date with a time ``yyyy-mm-dd hh:mm`` (``:ss`` when there are seconds);
- a whole number stored as a number gives its digits (``6591234567``, never ``6591234567.0`` nor ``6.59E+09``),
  so a phone number typed as a number reads as that number. The spreadsheet program has already dropped a leading
  ``0`` or ``+``: ``+65 9123 4567`` typed as a number is ``6591234567``, which the phone reader still takes as a
  Singapore number, and so is ``91234567`` (the default country is Singapore);
- a percentage gives ``50%``, true/false give ``TRUE``/``FALSE``;
- merged cells give their value once, in the top-left cell; the other cells of the merge are empty.

Both readers drive expat over the sheet's XML as it is decompressed (the .xlsx's worksheet, the .ods's
``content.xml``), with handlers that keep only the row being read, so memory stays flat however long the sheet is,
and do the least per element, which is what a spreadsheet's reading time is made of (docs/performance.md). openpyxl
and odfpy make the tests' files; neither reads here (openpyxl's read-only mode keeps a trace of every row read and
reads 30 times slower than the CSV reader, odfpy loads the whole document). Both need the file seekable: a zip
archive's directory is at its end.
"""

from __future__ import annotations

import datetime
import re
import typing
import zipfile
from collections.abc import Iterator
from xml.etree.ElementTree import ParseError, iterparse
from xml.parsers.expat import ExpatError, ParserCreate, XMLParserType

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # Excel 97-2003 (.xls) and other old Office files
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
# The cells of a row beyond this many columns are refused (a spreadsheet can have 16,384): no template needs more,
# and it bounds what one row holds.
MAX_COLUMNS = 1_000
# The distinct texts of an .xlsx are held while its sheet is read (cells refer to them by number): this bounds them
# (256 million characters: far more than any list of recipients has).
MAX_SHARED_TEXT = 256 * 2**20

SheetRow = tuple[int, list[str]]

XLSX_NAME = "Excel workbook"
ODS_NAME = "OpenDocument spreadsheet"


class SheetError(Exception):
    """A spreadsheet that cannot be read; the message names the file. ``row`` and ``column`` (1-based) say where,
    when the problem is one cell: ``RecipientFile`` then names the column by its header."""

    def __init__(self, message: str, row: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.column = column


class CellError(SheetError):
    """A problem with one cell; ``RecipientFile`` says it with the column's name from the header."""

    def __init__(self, filename: str, row: int, column: int, problem: str) -> None:
        super().__init__(f"{filename}: row {row}, column {column_letter(column)} {problem}", row, column)
        self.filename = filename
        self.problem = problem


def column_letter(column: int) -> str:
    """The spreadsheet's name of a column: 1 -> A, 27 -> AA."""
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def spreadsheet_kind(archive: zipfile.ZipFile) -> str | None:
    """"xlsx", "ods", or None for a zip archive that is neither (a .docx, a zipped folder)."""
    names = set(archive.namelist())
    if "mimetype" in names and archive.read("mimetype").strip() == ODS_MIMETYPE:
        return "ods"
    if "[Content_Types].xml" in names and any(name.startswith("xl/") for name in names):
        return "xlsx"
    return None


# -- values ------------------------------------------------------------------------------------------------------


def number_text(value: float) -> str:
    """A number as an officer reads it: whole numbers as their digits (phone numbers, references), others with up to
    15 significant digits, as Excel shows them (0.1 + 0.2 -> 0.3)."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return f"{value:.15g}"


def percent_text(value: float) -> str:
    return f"{number_text(round(value * 100, 10))}%"


def time_text(value: datetime.time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def datetime_text(value: datetime.datetime) -> str:
    if value.time() == datetime.time(0):
        return value.date().isoformat()
    return f"{value.date().isoformat()} {time_text(value.time())}"


def _too_wide(filename: str, row: int) -> SheetError:
    return SheetError(f"{filename}: row {row} has values beyond column {column_letter(MAX_COLUMNS)}; a recipient "
                      f"file has at most {MAX_COLUMNS:,} columns.", row=row)


# -- reading XML with expat --------------------------------------------------------------------------------------
#
# The sheets are read by expat itself rather than ElementTree: iterparse builds an Element for every cell and hands
# Python two events per element, which made a spreadsheet 8-13 times slower to read than the same CSV. The standard
# library's expat never loads external entities and (>= 2.4.1) refuses entity expansion bombs (billion laughs): the
# safety that defusedxml would add.

_CHUNK_SIZE = 128 * 1024


class _FirstSheetRead(Exception):  # noqa: N818 - not an error: the rest of the document is not read
    """Raised by a handler when the first sheet has ended."""


def _expat_parser() -> XMLParserType:
    parser = ParserCreate(namespace_separator="}")  # element names as "namespace}local"
    parser.buffer_text = True  # a text node in one call, not one per line or entity
    parser.buffer_size = _CHUNK_SIZE
    return parser


def _parsed_rows(content: typing.IO[bytes], reader: tuple[XMLParserType, list[SheetRow]]) -> Iterator[SheetRow]:
    """Feeds ``content`` to the parser a chunk at a time and yields the rows its handlers finish. The rows read
    before a problem come first, so the first problem in the sheet is the one reported."""
    parser, ready = reader
    parse, read = parser.Parse, content.read
    while True:
        chunk = read(_CHUNK_SIZE)
        problem: Exception | None = None
        try:
            parse(chunk, not chunk)
        except Exception as error:  # noqa: BLE001 - raised again below, after the rows before it
            problem = error
        if ready:
            yield from ready
            ready.clear()
        if isinstance(problem, _FirstSheetRead):
            return
        if problem is not None:
            raise problem
        if not chunk:
            return


# -- Excel (.xlsx) -----------------------------------------------------------------------------------------------
#
# Read with the standard library rather than openpyxl: openpyxl's read-only mode keeps an emptied element for every
# row it has read (about 100 bytes each: 117 MiB at a million rows) and reads about 30 times slower than the CSV
# reader. Only what a recipient list needs is read: the first worksheet, the shared strings, and which cell styles
# are dates or percentages (the workbook's small parts with ElementTree, the shared strings and the sheet with
# expat).

_RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_BUILTIN_DATE_FORMATS = frozenset((*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)))
_BUILTIN_PERCENT_FORMATS = frozenset((9, 10))
_EPOCH_1900 = datetime.datetime(1899, 12, 30)  # serial 1 is 1900-01-01 (Excel's 1900-02-29 is never a real date)
_EPOCH_1904 = datetime.datetime(1904, 1, 1)
_DATE, _PERCENT = "date", "percent"


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def xlsx_rows(file: typing.BinaryIO, filename: str) -> Iterator[SheetRow]:
    """The first worksheet's rows. Raises SheetError for a file that is not a readable workbook, CellError for a
    cell whose formula failed."""
    try:
        archive = zipfile.ZipFile(file)
        sheet_path, strings_path, styles_path, date1904 = _workbook_parts(archive)
        styles = _cell_styles(archive, styles_path)
        strings = _shared_strings(archive, strings_path)
        content = archive.open(sheet_path)
    except SheetError:
        raise
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, ParseError, ExpatError, ValueError,
            IndexError) as error:
        raise SheetError(f"{filename} is not a readable {XLSX_NAME}: {_reason(error)}") from None
    epoch = _EPOCH_1904 if date1904 else _EPOCH_1900
    sheet = _XlsxSheet(filename, strings, styles, epoch)
    try:
        yield from _parsed_rows(content, sheet.parser())
    except SheetError:
        raise
    except ExpatError as error:
        raise SheetError(f"{filename} is not a readable {XLSX_NAME}: its sheet is damaged ({error})",
                         row=sheet.row_number + 1) from None
    except (ValueError, IndexError, zipfile.BadZipFile, OSError, EOFError) as error:
        raise SheetError(f"{filename} is not a readable {XLSX_NAME}: after row {sheet.row_number}, "
                         f"{_reason(error)}", row=sheet.row_number + 1) from None
    finally:
        content.close()
        archive.close()


def _workbook_parts(archive: zipfile.ZipFile) -> tuple[str, str, str, bool]:
    """(first worksheet, shared strings, styles, whether dates count from 1904) from the workbook's own parts."""
    targets: dict[str, tuple[str, str]] = {}  # relationship id -> (type, part name)
    with archive.open("xl/_rels/workbook.xml.rels") as rels:
        for _, element in iterparse(rels):  # noqa: S314 - see "reading XML with expat"
            if element.tag == _RELATIONSHIPS:
                target = element.get("Target", "")
                part = target.lstrip("/") if target.startswith("/") else "xl/" + target
                targets[element.get("Id", "")] = (element.get("Type", "").rpartition("/")[2], part)
    sheet_path, date1904 = "", False
    with archive.open("xl/workbook.xml") as workbook:
        for _, element in iterparse(workbook):  # noqa: S314 - see "reading XML with expat"
            name = _local(element.tag)
            if name == "workbookPr":
                date1904 = element.get("date1904", "").lower() in ("1", "true")
            elif name == "sheet" and not sheet_path:
                relationship = next((value for key, value in element.attrib.items() if _local(key) == "id"), "")
                kind, part = targets.get(relationship, ("", ""))
                if kind == "worksheet":  # a chart sheet comes first at times: the first worksheet is read
                    sheet_path = part
    if not sheet_path:
        raise KeyError("the workbook has no worksheet")
    by_kind = {kind: part for kind, part in targets.values()}
    return sheet_path, by_kind.get("sharedStrings", ""), by_kind.get("styles", ""), date1904


def _cell_styles(archive: zipfile.ZipFile, path: str) -> list[str | None]:
    """For each cell style (``s`` of a cell): "date", "percent" or None, from its number format."""
    if not path or path not in archive.namelist():
        return []
    custom: dict[int, str] = {}
    styles: list[str | None] = []
    with archive.open(path) as source:
        in_cell_xfs = False
        for event, element in iterparse(source, events=("start", "end")):  # noqa: S314 - see "reading XML with expat"
            name = _local(element.tag)
            if name == "cellXfs":
                in_cell_xfs = event == "start"
            elif event == "end" and name == "numFmt":
                custom[int(element.get("numFmtId", "0"))] = element.get("formatCode", "")
            elif event == "end" and name == "xf" and in_cell_xfs:
                styles.append(_format_kind(int(element.get("numFmtId", "0")), custom))
    return styles


def _format_kind(format_id: int, custom: dict[int, str]) -> str | None:
    if format_id in custom:
        code = custom[format_id]
        # What is quoted, escaped or in brackets ([Red], [$-409], [h]) is not a date or percent sign.
        bare = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.', "", code.split(";")[0]).lower()
        if "%" in bare:
            return _PERCENT
        if any(letter in bare for letter in "dmyhs") or "[h" in code.lower():
            return _DATE
        return None
    if format_id in _BUILTIN_DATE_FORMATS:
        return _DATE
    return _PERCENT if format_id in _BUILTIN_PERCENT_FORMATS else None


def _shared_strings(archive: zipfile.ZipFile, path: str) -> list[str]:
    """The workbook's table of strings (cells of type "s" give an index into it). It is held whole, as any reader
    of the format must: its size is the number of different texts, not of rows. A string item's text is its ``t``
    runs (rich text: one per run), without phonetic guides (``rPh``)."""
    if not path or path not in archive.namelist():
        return []
    strings: list[str] = []
    held = 0
    item_tag = text_tag = phonetic_tag = ""
    text = ""
    capture = phonetic = False

    def first_start(name: str, attributes: dict[str, str]) -> None:
        nonlocal item_tag, text_tag, phonetic_tag
        namespace = name[: name.index("}") + 1] if "}" in name else ""
        item_tag, text_tag, phonetic_tag = namespace + "si", namespace + "t", namespace + "rPh"
        parser.StartElementHandler = start

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal text, capture, phonetic
        if name == text_tag:
            capture = not phonetic
        elif name == item_tag:
            text = ""
        elif name == phonetic_tag:
            phonetic = True

    def data(piece: str) -> None:
        nonlocal text
        if capture:
            text += piece

    def end(name: str) -> None:
        nonlocal capture, phonetic, held
        if name == text_tag:
            capture = False
        elif name == item_tag:
            held += len(text)
            if held > MAX_SHARED_TEXT:
                raise ValueError(f"its table of texts is over {MAX_SHARED_TEXT // 2**20} million characters")
            strings.append(text)
        elif name == phonetic_tag:
            phonetic = False

    parser = _expat_parser()
    parser.StartElementHandler = first_start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    with archive.open(path) as source:
        while chunk := source.read(_CHUNK_SIZE):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    return strings


def _column_number(reference: str) -> int:
    number = 0
    for letter in reference:
        if letter.isdigit():
            break
        number = number * 26 + ord(letter.upper()) - 64
    return number


_COLUMN_NUMBERS = {column_letter(column): column for column in range(1, MAX_COLUMNS + 2)}
_DIGITS = "0123456789"


class _XlsxSheet:
    """The worksheet's XML, read by expat handlers that do the least per element (issue 18: within 3x of the CSV
    reader's time). The handlers keep their state in closure variables rather than attributes, the cheapest to read
    and write in Python; a cell's value is converted when its ``c`` element ends, a row is handed on when its ``row``
    element ends. ``row_number`` is the last row read, for the messages of a damaged sheet."""

    def __init__(self, filename: str, strings: list[str], styles: list[str | None], epoch: datetime.datetime) -> None:
        self.filename = filename
        self.strings = strings
        # A cell's style number as written (s="3") -> "date" or "percent"; other styles are plain numbers.
        self.style_kinds = {str(index): kind for index, kind in enumerate(styles) if kind}
        self.epoch = epoch
        self.row_number = 0

    def parser(self) -> tuple[XMLParserType, list[SheetRow]]:  # noqa: C901 - the handlers are one state machine
        """An expat parser for the sheet and the list its handlers append the finished rows to."""
        sheet = self
        filename, strings, style_kinds, epoch = self.filename, self.strings, self.style_kinds, self.epoch
        columns = _COLUMN_NUMBERS
        ready: list[SheetRow] = []
        row_tag = cell_tag = value_tag = text_tag = phonetic_tag = ""
        cells: list[str] = []
        number = column = 0
        kind = "n"
        style: str | None = None
        text = ""
        capture = phonetic = False

        def first_start(name: str, attributes: dict[str, str]) -> None:
            """The root: its namespace is the file's (transitional or strict)."""
            nonlocal row_tag, cell_tag, value_tag, text_tag, phonetic_tag
            namespace = name[: name.index("}") + 1] if "}" in name else ""
            row_tag, cell_tag, value_tag = namespace + "row", namespace + "c", namespace + "v"
            text_tag, phonetic_tag = namespace + "t", namespace + "rPh"
            parser.StartElementHandler = start

        def start(name: str, attributes: dict[str, str]) -> None:
            nonlocal cells, number, column, kind, style, text, capture, phonetic
            if name == cell_tag:
                kind = attributes.get("t", "n")
                style = attributes.get("s")
                reference = attributes.get("r")
                if reference:
                    column = columns.get(reference.rstrip(_DIGITS)) or _column_number(reference)
                else:
                    column += 1  # without a reference: the next column
                text = ""
            elif name == text_tag or name == value_tag:
                capture = not phonetic  # a phonetic guide's text (rPh) is not the cell's
            elif name == row_tag:
                reference = attributes.get("r")
                number = int(reference) if reference else sheet.row_number + 1
                cells = []
                column = 0
            elif name == phonetic_tag:
                phonetic = True

        def data(piece: str) -> None:
            nonlocal text
            if capture:
                text += piece

        def end(name: str) -> None:
            nonlocal capture, phonetic
            if name == text_tag or name == value_tag:
                capture = False
            elif name == cell_tag:
                if not text:
                    return  # an empty cell, or a formula never calculated (not saved by a spreadsheet program)
                if kind == "inlineStr" or kind == "str":
                    value = text
                elif kind == "s":
                    value = strings[int(text)]
                elif kind == "n":
                    style_kind = style_kinds.get(style) if style else None
                    if style_kind is None:
                        # A whole number of up to 15 digits is its own text: no float needed.
                        if len(text) < 16 and text.isdigit() and text.isascii() and (text[0] != "0" or text == "0"):
                            value = text
                        else:
                            value = number_text(float(text))
                    elif style_kind == _DATE:
                        serial = float(text)
                        moment = epoch + datetime.timedelta(seconds=round(serial * 86400))
                        value = time_text(moment.time()) if 0 <= serial < 1 else datetime_text(moment)
                    else:
                        value = percent_text(float(text))
                elif kind == "b":
                    value = "TRUE" if text in ("1", "true") else "FALSE"
                elif kind == "e":
                    raise CellError(filename, number, column, f"has the formula error {text}. Correct the formula "
                                    "in the spreadsheet, or replace it by a value.")
                elif kind == "d":
                    value = datetime_text(datetime.datetime.fromisoformat(text))
                else:
                    value = number_text(float(text))
                if column > MAX_COLUMNS:
                    raise _too_wide(filename, number)
                held = len(cells)
                if column == held + 1:
                    cells.append(value)
                elif column > held:
                    cells.extend([""] * (column - held - 1))
                    cells.append(value)
                else:
                    cells[column - 1] = value
            elif name == row_tag:
                sheet.row_number = number
                if cells:
                    ready.append((number, cells))
            elif name == phonetic_tag:
                phonetic = False

        parser = _expat_parser()
        parser.StartElementHandler = first_start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = data
        return parser, ready


def _reason(error: Exception) -> str:
    reason = str(error).strip() or type(error).__name__
    if isinstance(error, zipfile.BadZipFile):
        return f"the file is damaged ({reason})"
    if isinstance(error, KeyError):
        return f"a part of the workbook is missing ({reason})"
    return reason


# -- OpenDocument (.ods) -----------------------------------------------------------------------------------------

TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0}"  # names as expat gives them: "namespace}local"
OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE, _ROW, _CELL, _COVERED = TABLE + "table", TABLE + "table-row", TABLE + "table-cell", TABLE + "covered-table-cell"
_ROWS_REPEATED, _COLUMNS_REPEATED = TABLE + "number-rows-repeated", TABLE + "number-columns-repeated"
_VALUE_TYPE, _VALUE = OFFICE + "value-type", OFFICE + "value"
_DATE_VALUE, _TIME_VALUE, _BOOLEAN_VALUE = OFFICE + "date-value", OFFICE + "time-value", OFFICE + "boolean-value"
_P, _H, _S, _TAB, _LINE_BREAK = TEXT + "p", TEXT + "h", TEXT + "s", TEXT + "tab", TEXT + "line-break"
_SPACES = TEXT + "c"
_NUMBER_TYPES = ("float", "currency")
_TYPED = frozenset((*_NUMBER_TYPES, "percentage", "date", "time", "boolean"))  # other cells: their paragraphs


def ods_rows(file: typing.BinaryIO, filename: str) -> Iterator[SheetRow]:
    """The first table's rows. Raises SheetError for a file that is not a readable OpenDocument spreadsheet."""
    try:
        archive = zipfile.ZipFile(file)
        content = archive.open("content.xml")
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise SheetError(f"{filename} is not a readable {ODS_NAME}: {_reason(error)}") from None
    table = _OdsTable(filename)
    try:
        yield from _parsed_rows(content, table.parser())
    except SheetError:
        raise
    except ExpatError as error:
        raise SheetError(f"{filename} is not a readable {ODS_NAME}: its content is damaged ({error})",
                         row=table.row_number + 1) from None
    except ValueError as error:  # a number or date attribute that is not one
        raise SheetError(f"{filename} is not a readable {ODS_NAME}: row {table.row_number + 1} has a value that "
                         f"cannot be read ({error})", row=table.row_number + 1) from None
    except (zipfile.BadZipFile, OSError, EOFError) as error:  # a damaged compressed stream
        raise SheetError(f"{filename} is not a readable {ODS_NAME}: {_reason(error)}",
                         row=table.row_number + 1) from None
    finally:
        content.close()
        archive.close()


class _OdsTable:
    """The first table of ``content.xml``, read by expat handlers as ``_XlsxSheet`` reads a worksheet. A cell's
    text is its paragraphs (``text:p``, ``text:h``: its direct children, so not an annotation's), joined by line
    breaks, with ``text:s``, ``text:tab`` and ``text:line-break`` as the spaces, tab and line break they stand for;
    a typed cell (number, date...) gives its value from its attributes. ``row_number`` counts the rows read."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.row_number = 0

    def parser(self) -> tuple[XMLParserType, list[SheetRow]]:  # noqa: C901 - the handlers are one state machine
        """An expat parser for ``content.xml`` and the list its handlers append the finished rows to."""
        table = self
        filename = self.filename
        ready: list[SheetRow] = []
        in_table = False
        cells: list[str] = []
        rows_repeated = columns_repeated = empty_run = 0
        depth = 0  # within a cell: 1 in the cell itself, 2 in its children...
        value: str | None = None  # a typed cell's value; None: its paragraphs are its text
        text = ""
        paragraphs = 0
        in_paragraph = False

        def start(name: str, attributes: dict[str, str]) -> None:
            nonlocal in_table, cells, rows_repeated, columns_repeated, empty_run, depth, value, text, paragraphs
            nonlocal in_paragraph
            if depth:  # within a cell
                depth += 1
                if in_paragraph:
                    if name == _S:
                        text += " " * int(attributes.get(_SPACES, "1"))
                    elif name == _TAB:
                        text += "\t"
                    elif name == _LINE_BREAK:
                        text += "\n"
                    # text:span, text:a...: their text is read
                elif depth == 2 and value is None and (name == _P or name == _H):
                    in_paragraph = True
                    if paragraphs:
                        text += "\n"
                    paragraphs += 1
            elif not in_table:
                if name == _TABLE:
                    in_table = True
            elif name == _CELL:
                repeated = attributes.get(_COLUMNS_REPEATED)
                columns_repeated = int(repeated) if repeated else 1
                depth = 1
                kind = attributes.get(_VALUE_TYPE)
                value = _ods_typed_value(kind, attributes) if kind in _TYPED else None
                text = ""
                paragraphs = 0
            elif name == _COVERED:  # a cell under a merge: empty
                repeated = attributes.get(_COLUMNS_REPEATED)
                columns_repeated = int(repeated) if repeated else 1
                depth = 1
                value = ""
            elif name == _ROW:
                repeated = attributes.get(_ROWS_REPEATED)
                rows_repeated = int(repeated) if repeated else 1
                cells = []
                empty_run = 0  # empty cells not yet added: only added when a value follows

        def data(piece: str) -> None:
            nonlocal text
            if in_paragraph:
                text += piece

        def end(name: str) -> None:
            nonlocal depth, in_paragraph, empty_run
            if depth:
                depth -= 1
                if depth == 1:
                    in_paragraph = False
                elif not depth:  # the cell's end
                    cell = text if value is None else value
                    if not cell:
                        empty_run += columns_repeated
                        return
                    if len(cells) + empty_run + columns_repeated > MAX_COLUMNS:
                        raise _too_wide(filename, table.row_number + 1)
                    if empty_run:
                        cells.extend([""] * empty_run)
                        empty_run = 0
                    if columns_repeated == 1:
                        cells.append(cell)
                    else:
                        cells.extend([cell] * columns_repeated)
            elif name == _ROW:
                if not cells:
                    table.row_number += rows_repeated  # LibreOffice writes the empty rows below as one repeated row
                elif rows_repeated == 1:
                    table.row_number += 1
                    ready.append((table.row_number, cells))
                else:
                    for _ in range(rows_repeated):
                        table.row_number += 1
                        ready.append((table.row_number, list(cells)))
            elif name == _TABLE and in_table:
                raise _FirstSheetRead  # the first table only: the rest of the document is not read

        parser = _expat_parser()
        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = data
        return parser, ready


def _ods_typed_value(kind: str, attributes: dict[str, str]) -> str:
    if kind in _NUMBER_TYPES:
        return number_text(float(attributes.get(_VALUE, "0")))
    if kind == "percentage":
        return percent_text(float(attributes.get(_VALUE, "0")))
    if kind == "date":
        return datetime_text(datetime.datetime.fromisoformat(attributes.get(_DATE_VALUE, "")))
    if kind == "time":
        return _duration_text(attributes.get(_TIME_VALUE, ""))
    return "TRUE" if attributes.get(_BOOLEAN_VALUE) == "true" else "FALSE"


def _duration_text(value: str) -> str:
    """An ODS time ("PT10H30M00S") as hh:mm (:ss when there are seconds)."""
    hours, _, rest = value.removeprefix("PT").partition("H")
    minutes, _, seconds = rest.partition("M")
    seconds = seconds.rstrip("S").split(".")[0] or "0"
    clock = f"{int(hours or 0):02d}:{int(minutes or 0):02d}"
    return f"{clock}:{int(seconds):02d}" if int(seconds) else clock

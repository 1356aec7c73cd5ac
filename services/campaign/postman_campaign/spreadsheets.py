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

Both readers are ElementTree's ``iterparse`` over the sheet's XML as it is decompressed (the .xlsx's worksheet,
the .ods's ``content.xml``): a row is dropped from the tree as soon as it is read, so memory stays flat however long
the sheet is. openpyxl and odfpy make the tests' files; neither reads here (openpyxl's read-only mode keeps a trace of
every row read, odfpy loads the whole document). Both need the file seekable: a zip archive's directory is at its
end.
"""

from __future__ import annotations

import datetime
import re
import typing
import zipfile
from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError, iterparse

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


# -- Excel (.xlsx) -----------------------------------------------------------------------------------------------
#
# Read with the standard library rather than openpyxl: openpyxl's read-only mode keeps an emptied element for every
# row it has read (about 100 bytes each: 117 MiB at a million rows) and reads about 20 times slower than the CSV
# reader. Only what a recipient list needs is read: the first worksheet, the shared strings, and which cell styles
# are dates or percentages.

_RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_BUILTIN_DATE_FORMATS = frozenset((*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)))
_BUILTIN_PERCENT_FORMATS = frozenset((9, 10))
_EPOCH_1900 = datetime.datetime(1899, 12, 30)  # serial 1 is 1900-01-01 (Excel's 1900-02-29 is never a real date)
_EPOCH_1904 = datetime.datetime(1904, 1, 1)
_DATE, _PERCENT = "date", "percent"


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _namespace(tag: str) -> str:
    return tag[: tag.index("}") + 1] if tag.startswith("{") else ""


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
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, ParseError, ValueError, IndexError) as error:
        raise SheetError(f"{filename} is not a readable {XLSX_NAME}: {_reason(error)}") from None
    epoch = _EPOCH_1904 if date1904 else _EPOCH_1900
    row_number = 0
    try:
        namespace: str | None = None
        row_tag = sheet_data_tag = ""
        sheet_data: Element | None = None
        for event, element in iterparse(content, events=("start", "end")):  # noqa: S314 - see ods_rows
            if event == "start":
                if namespace is None:  # the root: its namespace is the file's (transitional or strict)
                    namespace = _namespace(element.tag)
                    row_tag, sheet_data_tag = namespace + "row", namespace + "sheetData"
                elif element.tag == sheet_data_tag:
                    sheet_data = element
                continue
            if element.tag != row_tag:
                continue
            row_number = int(element.get("r") or row_number + 1)
            cells = _xlsx_row_cells(element, filename, row_number, strings, styles, epoch)
            if sheet_data is not None:
                sheet_data.remove(element)  # keeps memory flat: the tree never holds more than one row
            if cells:
                yield row_number, cells
    except SheetError:
        raise
    except ParseError as error:
        raise SheetError(f"{filename} is not a readable {XLSX_NAME}: its sheet is damaged ({error})",
                         row=row_number + 1) from None
    except (ValueError, IndexError, zipfile.BadZipFile, OSError, EOFError) as error:
        raise SheetError(f"{filename} is not a readable {XLSX_NAME}: after row {row_number}, "
                         f"{_reason(error)}", row=row_number + 1) from None
    finally:
        content.close()
        archive.close()


def _workbook_parts(archive: zipfile.ZipFile) -> tuple[str, str, str, bool]:
    """(first worksheet, shared strings, styles, whether dates count from 1904) from the workbook's own parts."""
    targets: dict[str, tuple[str, str]] = {}  # relationship id -> (type, part name)
    with archive.open("xl/_rels/workbook.xml.rels") as rels:
        for _, element in iterparse(rels):  # noqa: S314 - see ods_rows
            if element.tag == _RELATIONSHIPS:
                target = element.get("Target", "")
                part = target.lstrip("/") if target.startswith("/") else "xl/" + target
                targets[element.get("Id", "")] = (element.get("Type", "").rpartition("/")[2], part)
    sheet_path, date1904 = "", False
    with archive.open("xl/workbook.xml") as workbook:
        for _, element in iterparse(workbook):  # noqa: S314 - see ods_rows
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
        for event, element in iterparse(source, events=("start", "end")):  # noqa: S314 - see ods_rows
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
    of the format must: its size is the number of different texts, not of rows."""
    if not path or path not in archive.namelist():
        return []
    strings: list[str] = []
    held = 0
    with archive.open(path) as source:
        for _, element in iterparse(source):  # noqa: S314 - see ods_rows
            if _local(element.tag) == "si":
                text = _rich_text(element)
                held += len(text)
                if held > MAX_SHARED_TEXT:
                    raise ValueError(f"its table of texts is over {MAX_SHARED_TEXT // 2**20} million characters")
                strings.append(text)
                element.clear()
    return strings


def _rich_text(element: Element) -> str:
    """The text of a string item or inline string: its ``t`` runs, without phonetic guides (``rPh``)."""
    parts: list[str] = []
    for child in element:
        name = _local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(run.text or "" for run in child if _local(run.tag) == "t")
    return "".join(parts)


def _column_number(reference: str) -> int:
    number = 0
    for letter in reference:
        if letter.isdigit():
            break
        number = number * 26 + ord(letter.upper()) - 64
    return number


def _xlsx_row_cells(row: Element, filename: str, row_number: int, strings: list[str], styles: list[str | None],
                    epoch: datetime.datetime) -> list[str]:
    cells: list[str] = []
    column = 0
    for cell in row:
        reference = cell.get("r")
        column = _column_number(reference) if reference else column + 1  # without a reference: the next column
        if column > MAX_COLUMNS:
            if _xlsx_cell_text(cell, filename, row_number, column, strings, styles, epoch):
                raise _too_wide(filename, row_number)
            continue
        text = _xlsx_cell_text(cell, filename, row_number, column, strings, styles, epoch)
        if text:
            if column > len(cells) + 1:
                cells.extend([""] * (column - len(cells) - 1))
            if column <= len(cells):
                cells[column - 1] = text
            else:
                cells.append(text)
    return cells


def _xlsx_cell_text(cell: Element, filename: str, row: int, column: int, strings: list[str],
                    styles: list[str | None], epoch: datetime.datetime) -> str:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        inline = next((child for child in cell if _local(child.tag) == "is"), None)
        return _rich_text(inline) if inline is not None else ""
    value = next((child.text or "" for child in cell if _local(child.tag) == "v"), "")
    if not value:
        return ""  # an empty cell, or a formula never calculated (its file was not saved by a spreadsheet program)
    if kind == "s":
        return strings[int(value)]
    if kind == "str":
        return value
    if kind == "b":
        return "TRUE" if value in ("1", "true") else "FALSE"
    if kind == "e":
        raise CellError(filename, row, column, f"has the formula error {value}. Correct the formula in the "
                        "spreadsheet, or replace it by a value.")
    if kind == "d":
        return datetime_text(datetime.datetime.fromisoformat(value))
    number = float(value)
    style = styles[int(cell.get("s", "0"))] if styles and int(cell.get("s", "0")) < len(styles) else None
    if style == _DATE:
        moment = epoch + datetime.timedelta(seconds=round(number * 86400))
        return time_text(moment.time()) if 0 <= number < 1 else datetime_text(moment)
    if style == _PERCENT:
        return percent_text(number)
    return number_text(number)


def _reason(error: Exception) -> str:
    reason = str(error).strip() or type(error).__name__
    if isinstance(error, zipfile.BadZipFile):
        return f"the file is damaged ({reason})"
    if isinstance(error, KeyError):
        return f"a part of the workbook is missing ({reason})"
    return reason


# -- OpenDocument (.ods) -----------------------------------------------------------------------------------------

TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE, _ROW, _CELL, _COVERED = TABLE + "table", TABLE + "table-row", TABLE + "table-cell", TABLE + "covered-table-cell"
_ROWS_REPEATED, _COLUMNS_REPEATED = TABLE + "number-rows-repeated", TABLE + "number-columns-repeated"
_VALUE_TYPE, _VALUE = OFFICE + "value-type", OFFICE + "value"
_DATE_VALUE, _TIME_VALUE, _BOOLEAN_VALUE = OFFICE + "date-value", OFFICE + "time-value", OFFICE + "boolean-value"
_P, _H, _S, _TAB, _LINE_BREAK = TEXT + "p", TEXT + "h", TEXT + "s", TEXT + "tab", TEXT + "line-break"
_NUMBER_TYPES = ("float", "currency")


def ods_rows(file: typing.BinaryIO, filename: str) -> Iterator[SheetRow]:
    """The first table's rows. Raises SheetError for a file that is not a readable OpenDocument spreadsheet."""
    try:
        archive = zipfile.ZipFile(file)
        content = archive.open("content.xml")
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise SheetError(f"{filename} is not a readable {ODS_NAME}: {_reason(error)}") from None
    row_number = 0
    try:
        parents: list[Element] = []
        in_table = False
        # The standard library's parser never loads external entities, and expat (>= 2.4.1) refuses entity
        # expansion bombs (billion laughs): the safety that defusedxml would add.
        for event, element in iterparse(content, events=("start", "end")):  # noqa: S314
            tag = element.tag
            if event == "start":
                if tag == _TABLE:
                    in_table = True
                parents.append(element)
                continue
            parents.pop()
            if not in_table:
                continue
            if tag == _ROW:
                repeated = int(element.get(_ROWS_REPEATED, "1"))
                cells = _ods_row_cells(element, filename, row_number + 1)
                if parents:
                    parents[-1].remove(element)  # keeps memory flat: the tree never holds more than one row
                if not cells:
                    row_number += repeated  # LibreOffice writes the empty rows below the data as one repeated row
                    continue
                for _ in range(repeated):
                    row_number += 1
                    yield row_number, list(cells)
            elif tag == _TABLE:
                return  # the first table only: the rest of the document is not read
    except ParseError as error:
        raise SheetError(f"{filename} is not a readable {ODS_NAME}: its content is damaged ({error})",
                         row=row_number + 1) from None
    except ValueError as error:  # a number or date attribute that is not one
        raise SheetError(f"{filename} is not a readable {ODS_NAME}: row {row_number + 1} has a value that cannot "
                         f"be read ({error})", row=row_number + 1) from None
    except (zipfile.BadZipFile, OSError, EOFError) as error:  # a damaged compressed stream
        raise SheetError(f"{filename} is not a readable {ODS_NAME}: {_reason(error)}",
                         row=row_number + 1) from None
    finally:
        content.close()
        archive.close()


def _ods_row_cells(row: Element, filename: str, row_number: int) -> list[str]:
    cells: list[str] = []
    empty_run = 0  # empty cells not yet added: only added when a value follows, so trailing ones cost nothing
    for cell in row:
        if cell.tag != _CELL and cell.tag != _COVERED:
            continue
        repeated = int(cell.get(_COLUMNS_REPEATED, "1"))
        text = _ods_cell_text(cell) if cell.tag == _CELL else ""
        if not text:
            empty_run += repeated
            continue
        if len(cells) + empty_run + repeated > MAX_COLUMNS:
            raise _too_wide(filename, row_number)
        cells.extend([""] * empty_run)
        empty_run = 0
        cells.extend([text] * repeated)
    return cells


def _ods_cell_text(cell: Element) -> str:
    kind = cell.get(_VALUE_TYPE)
    if kind in _NUMBER_TYPES:
        return number_text(float(cell.get(_VALUE, "0")))
    if kind == "percentage":
        return percent_text(float(cell.get(_VALUE, "0")))
    if kind == "date":
        return datetime_text(datetime.datetime.fromisoformat(cell.get(_DATE_VALUE, "")))
    if kind == "time":
        return _duration_text(cell.get(_TIME_VALUE, ""))
    if kind == "boolean":
        return "TRUE" if cell.get(_BOOLEAN_VALUE) == "true" else "FALSE"
    # A string (or no type): the paragraphs' text, which annotations (comments) are not part of.
    return "\n".join(_paragraph_text(p) for p in cell if p.tag == _P or p.tag == _H)


def _paragraph_text(element: Element) -> str:
    parts = [element.text or ""]
    for child in element:
        if child.tag == _S:
            parts.append(" " * int(child.get(TEXT + "c", "1")))
        elif child.tag == _TAB:
            parts.append("\t")
        elif child.tag == _LINE_BREAK:
            parts.append("\n")
        else:  # text:span, text:a...: their text
            parts.append(_paragraph_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _duration_text(value: str) -> str:
    """An ODS time ("PT10H30M00S") as hh:mm (:ss when there are seconds)."""
    hours, _, rest = value.removeprefix("PT").partition("H")
    minutes, _, seconds = rest.partition("M")
    seconds = seconds.rstrip("S").split(".")[0] or "0"
    clock = f"{int(hours or 0):02d}:{int(minutes or 0):02d}"
    return f"{clock}:{int(seconds):02d}" if int(seconds) else clock

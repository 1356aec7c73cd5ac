"""Spreadsheet files made for the tests: .xlsx with openpyxl, .ods with odfpy (and a long .ods written directly, as
odfpy holds the whole document)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet


def xlsx_bytes(rows: Iterable[Sequence[object]], *, merge: str = "", cached: dict[str, str] | None = None,
               percent: Iterable[str] = (), second_sheet: bool = False) -> bytes:
    """A workbook whose first sheet has ``rows`` (None leaves a cell empty, [] an empty row). ``cached`` gives a
    formula cell (its coordinate) the value a spreadsheet program would have saved with it."""
    workbook = Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    for row in rows:
        sheet.append(list(row) if row else [None])
    for coordinate in percent:
        sheet[coordinate].number_format = "0%"
    if merge:
        sheet.merge_cells(merge)
    if second_sheet:
        other = workbook.create_sheet("Other")
        other.append(["not", "read"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()
    return with_cached_values(data, cached) if cached else data


def with_cached_values(data: bytes, cached: dict[str, str]) -> bytes:
    """The workbook with a saved value after each named formula cell, as Excel writes it (openpyxl does not
    calculate formulas, so it writes none)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = content.decode()
                for coordinate, value in cached.items():
                    kind = ' t="str"' if not value.lstrip("-").replace(".", "").isdigit() else ""
                    kind = ' t="e"' if value.startswith("#") else kind
                    text = re.sub(rf'<c r="{coordinate}"([^>]*)><f>(.*?)</f><v\s*/?>(</v>)?',
                                  rf'<c r="{coordinate}"\1{kind}><f>\2</f><v>{value}</v>', text)
                content = text.encode()
            target.writestr(item, content)
    return out.getvalue()


def long_xlsx_bytes(count: int) -> bytes:
    """A workbook of ``count`` recipients, written by openpyxl's write-only mode (it streams the rows out)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(["Recipient", "Name", "Ref"])
    for i in range(count):
        sheet.append([f"officer.{i}@example.gov.sg", f"Tan Ah Kow {i}", 6591000000 + i])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def long_ods_bytes(count: int) -> bytes:
    """An ODS of ``count`` recipients, its content.xml written row by row as LibreOffice writes it (with the
    repeated empty cells and rows it leaves after the data)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        with archive.open("content.xml", "w") as content:
            content.write(ODS_HEAD.encode())
            content.write(b"<table:table-row><table:table-cell office:value-type=\"string\"><text:p>Recipient"
                          b"</text:p></table:table-cell><table:table-cell office:value-type=\"string\"><text:p>Name"
                          b"</text:p></table:table-cell><table:table-cell office:value-type=\"string\"><text:p>Ref"
                          b"</text:p></table:table-cell></table:table-row>")
            for i in range(count):
                content.write(
                    f'<table:table-row><table:table-cell office:value-type="string"><text:p>officer.{i}@example.gov.sg'
                    f'</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>Tan Ah Kow {i}'
                    f'</text:p></table:table-cell><table:table-cell office:value-type="float" '
                    f'office:value="{6591000000 + i}"><text:p>{6591000000 + i}</text:p></table:table-cell>'
                    '<table:table-cell table:number-columns-repeated="16381"/></table:table-row>'.encode())
            content.write(b'<table:table-row table:number-rows-repeated="1048000"><table:table-cell '
                          b'table:number-columns-repeated="16384"/></table:table-row>')
            content.write(ODS_TAIL.encode())
    return out.getvalue()


ODS_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
    '<office:body><office:spreadsheet><table:table table:name="Sheet1">'
    '<table:table-column table:number-columns-repeated="3"/>'
)
ODS_TAIL = "</table:table></office:spreadsheet></office:body></office:document-content>"


def ods_bytes(rows: Iterable[Sequence[object]], *, second_table: bool = False) -> bytes:
    """An ODS made by odfpy. A cell is a str (text), None (empty), or an odfpy TableCell given as is (dates,
    numbers, formulas, repeated and covered cells)."""
    from odf.element import Element
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    table = Table(name="Recipients")
    for values in rows:
        row = values if isinstance(values, Element) else TableRow()
        if not isinstance(values, Element):
            for value in values:
                if value is None:
                    row.addElement(TableCell())
                elif isinstance(value, str):
                    cell = TableCell(valuetype="string")
                    cell.addElement(P(text=value))
                    row.addElement(cell)
                else:
                    row.addElement(value)
        table.addElement(row)
    document.spreadsheet.addElement(table)
    if second_table:
        other = Table(name="Other")
        row = TableRow()
        cell = TableCell(valuetype="string")
        cell.addElement(P(text="not read"))
        row.addElement(cell)
        other.addElement(row)
        document.spreadsheet.addElement(other)
    buffer = io.BytesIO()
    document.write(buffer)
    return buffer.getvalue()

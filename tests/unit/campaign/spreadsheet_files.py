"""Spreadsheet files made for the tests: .xlsx with openpyxl, .ods with odfpy, and the long ones (100,000 rows)
written directly, as these writers take seconds for them (odfpy holds the whole document)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence

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
    """A workbook of ``count`` recipients with the cells openpyxl's write-only mode writes (text as inline strings,
    each cell with its reference), but its parts written here directly: openpyxl takes 6 s for 100,000 rows, this
    a fraction of a second. The small workbooks above stay openpyxl's, to prove the reader reads a real writer's
    files; this one proves memory stays flat with the length, so it has the parts the reader reads and the cells as
    that writer writes them. Shared strings would not do here: the reader holds a workbook's table of strings whole,
    as any reader must, so 200,000 distinct texts there would be held."""
    header = ('<row r="1"><c r="A1" t="inlineStr"><is><t>Recipient</t></is></c><c r="B1" t="inlineStr"><is><t>Name'
              '</t></is></c><c r="C1" t="inlineStr"><is><t>Ref</t></is></c></row>')

    def row(i: int) -> str:
        line = i + 2
        return (f'<row r="{line}"><c r="A{line}" t="inlineStr"><is><t>officer.{i}@example.gov.sg</t></is></c>'
                f'<c r="B{line}" t="inlineStr"><is><t>Tan Ah Kow {i}</t></is></c>'
                f'<c r="C{line}" t="n"><v>{6591000000 + i}</v></c></row>')

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=FAST) as archive:
        for name, part in XLSX_PARTS.items():
            archive.writestr(name, part)
        _write_in_batches(archive, "xl/worksheets/sheet1.xml", f"<worksheet {XLSX_MAIN}><sheetData>{header}",
                          count, row, "</sheetData></worksheet>")
    return out.getvalue()


# The long files' compression level: the fastest, 5 times faster to write than the default; the reader gets the
# same XML and inflates any level alike.
FAST = 1


def _write_in_batches(archive: zipfile.ZipFile, name: str, head: str, count: int, row: Callable[[int], str],
                      tail: str) -> None:
    """Writes a part of ``count`` rows, thousands at a time: a write per row costs the compressor a call each."""
    with archive.open(name, "w") as part:
        part.write(head.encode())
        for first in range(0, count, 10_000):
            part.write("".join([row(i) for i in range(first, min(first + 10_000, count))]).encode())
        part.write(tail.encode())


XLSX_MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_XLSX_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
# The parts of a workbook of one sheet, as openpyxl writes them less its themes and document properties (which no
# reader needs): what makes the file one that openpyxl and Excel open.
XLSX_PARTS = {
    "[Content_Types].xml":
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_XLSX_TYPE}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_XLSX_TYPE}.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_XLSX_TYPE}.styles+xml"/></Types>',
    "_rels/.rels":
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_XLSX_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml":
        f'<workbook {XLSX_MAIN} xmlns:r="{_XLSX_RELS}"><workbookPr/><sheets>'
        '<sheet name="Sheet" sheetId="1" state="visible" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels":
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_XLSX_RELS}/worksheet" Target="/xl/worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_XLSX_RELS}/styles" Target="styles.xml"/></Relationships>',
    "xl/styles.xml":
        f'<styleSheet {XLSX_MAIN}><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>',
}


def long_ods_bytes(count: int) -> bytes:
    """An ODS of ``count`` recipients, its content.xml written row by row as LibreOffice writes it (with the
    repeated empty cells and rows it leaves after the data)."""
    header = ('<table:table-row><table:table-cell office:value-type="string"><text:p>Recipient</text:p>'
              '</table:table-cell><table:table-cell office:value-type="string"><text:p>Name</text:p>'
              '</table:table-cell><table:table-cell office:value-type="string"><text:p>Ref</text:p>'
              "</table:table-cell></table:table-row>")

    def row(i: int) -> str:
        return (f'<table:table-row><table:table-cell office:value-type="string"><text:p>officer.{i}@example.gov.sg'
                f'</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>Tan Ah Kow {i}'
                f'</text:p></table:table-cell><table:table-cell office:value-type="float" '
                f'office:value="{6591000000 + i}"><text:p>{6591000000 + i}</text:p></table:table-cell>'
                '<table:table-cell table:number-columns-repeated="16381"/></table:table-row>')

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=FAST) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        _write_in_batches(archive, "content.xml", ODS_HEAD + header, count, row,
                          '<table:table-row table:number-rows-repeated="1048000"><table:table-cell '
                          'table:number-columns-repeated="16384"/></table:table-row>' + ODS_TAIL)
        archive.writestr("META-INF/manifest.xml", ODS_MANIFEST)
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
# The package's list of its parts, which every OpenDocument file has (odfpy and LibreOffice open none without it).
ODS_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
)


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

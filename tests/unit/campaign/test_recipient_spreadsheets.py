"""Spreadsheet recipient files (.xlsx, .ods) and tab-separated ones (.tsv): the same rows and checks as a CSV file,
cells read as an officer means them, errors that name the row and the column, memory flat with the file's length."""

from __future__ import annotations

import datetime
import io
import tracemalloc
import zipfile

import pytest
from odf.table import CoveredTableCell, TableCell, TableRow
from odf.text import P, S, Span

from postman_campaign.recipient_file import RecipientFile, RecipientFileError
from tests.unit.campaign.spreadsheet_files import long_ods_bytes, long_xlsx_bytes, ods_bytes, xlsx_bytes


def read(data: bytes, filename: str, **options: object) -> RecipientFile:
    return RecipientFile(io.BytesIO(data), filename, **options)  # type: ignore[arg-type]


def rows_of(data: bytes, filename: str, **options: object) -> list[tuple[int, dict[str, str], bool]]:
    return [(row.line, row.params, row.valid) for row in read(data, filename, **options).rows()]


def rejection(data: bytes, filename: str, **options: object) -> str:
    with pytest.raises(RecipientFileError) as caught:
        list(read(data, filename, **options).rows())
    return str(caught.value)


class OneWay(io.RawIOBase):
    """A stream that cannot seek, as an S3 object's body."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


# -- Excel -------------------------------------------------------------------------------------------------------


def test_xlsx_cells_read_as_an_officer_means_them() -> None:
    data = xlsx_bytes([
        ["Recipient", "Name", "Appointment", "Born", "Ref", "Share", "Consent", "Slot"],
        ["Officer0@Example.GOV.SG", "Tan Ah Kow", datetime.datetime(2026, 12, 1, 10, 0), datetime.date(1980, 2, 3),
         1234567.0, 0.5, True, datetime.time(9, 30)],
        [],  # an empty row: skipped, but the rows below keep their numbers
        ["officer1@example.gov.sg", "Lim", datetime.datetime(2026, 12, 2), None, 0.1 + 0.2, 0.125, False, None],
    ], percent=("F2", "F4"))

    rows = rows_of(data, "recipients.xlsx")

    assert [line for line, _, _ in rows] == [2, 4]
    assert rows[0][1] == {"recipient": "officer0@example.gov.sg", "name": "Tan Ah Kow",
                          "appointment": "2026-12-01 10:00", "born": "1980-02-03", "ref": "1234567",
                          "share": "50%", "consent": "TRUE", "slot": "09:30"}
    assert rows[1][1] == {"recipient": "officer1@example.gov.sg", "name": "Lim", "appointment": "2026-12-02",
                          "born": "", "ref": "0.3", "share": "12.5%", "consent": "FALSE", "slot": ""}


def test_xlsx_phone_numbers_stored_as_numbers_are_read_as_singapore_numbers() -> None:
    # Excel keeps "91234567" and "+65 9123 4567" typed in a cell as the numbers 91234567 and 6591234567 (as floats
    # in the file): their digits are read, and the phone reader's default country (SG) does the rest.
    data = xlsx_bytes([["recipient"], [91234567.0], [6591234567.0], ["+65 8123 4567"], [12.0]])

    rows = rows_of(data, "numbers.xlsx", channel="SMS")

    assert [(params["recipient"], valid) for _, params, valid in rows] == [
        ("+6591234567", True), ("+6591234567", True), ("+6581234567", True), ("12", False)]


def test_xlsx_formulas_give_their_saved_values() -> None:
    data = xlsx_bytes([["recipient", "first", "greeting", "total"],
                       ["a@example.gov.sg", "Ah Kow", '="Dear "&B2', "=2*21"]],
                      cached={"C2": "Dear Ah Kow", "D2": "42"})

    assert rows_of(data, "recipients.xlsx")[0][1] == {"recipient": "a@example.gov.sg", "first": "Ah Kow",
                                                      "greeting": "Dear Ah Kow", "total": "42"}


def test_xlsx_formula_error_is_named_by_row_and_column() -> None:
    data = xlsx_bytes([["recipient", "name"], ["a@example.gov.sg", "Tan"], ["b@example.gov.sg", "=VLOOKUP(1)"]],
                      cached={"B3": "#N/A"})

    message = rejection(data, "recipients.xlsx")

    assert message.startswith("recipients.xlsx: row 3, column name has the formula error #N/A.")


def test_xlsx_merged_cells_give_their_value_in_the_top_left_cell_only() -> None:
    data = xlsx_bytes([["recipient", "first", "last"], ["a@example.gov.sg", "Tan Ah Kow", None]], merge="B2:C2")

    assert rows_of(data, "recipients.xlsx")[0][1] == {"recipient": "a@example.gov.sg", "first": "Tan Ah Kow",
                                                      "last": ""}


def test_xlsx_reads_the_first_sheet_only_and_its_header_below_empty_rows() -> None:
    data = xlsx_bytes([[], [], ["recipient", "name"], ["a@example.gov.sg", "Tan"]], second_sheet=True)

    recipient_file = read(data, "recipients.xlsx")
    rows = list(recipient_file.rows())

    assert recipient_file.read_header() == ["recipient", "name"]
    assert [(row.line, row.recipient) for row in rows] == [(4, "a@example.gov.sg")]


def test_xlsx_value_beyond_the_header_is_named_by_row_and_column_letter() -> None:
    data = xlsx_bytes([["recipient", "name"], ["a@example.gov.sg", "Tan"], ["b@example.gov.sg", "Lim", None, "x"]])

    message = rejection(data, "recipients.xlsx")

    assert message.startswith('recipients.xlsx: row 3, column D has a value ("x") but the header (row 1) has no '
                              "column there.")


def test_xlsx_header_problems_say_row_and_column_letter() -> None:
    assert "column B of the header (row 1) has no name" in rejection(
        xlsx_bytes([["recipient", None, "name"], ["a@example.gov.sg", "x", "y"]]), "r.xlsx")
    assert 'needs a column named "recipient"' in rejection(xlsx_bytes([["email"], ["a@example.gov.sg"]]), "r.xlsx")
    assert "the template uses {{ name }}" in rejection(
        xlsx_bytes([["recipient"], ["a@example.gov.sg"]]), "r.xlsx", required_keys=["name"])
    assert rejection(xlsx_bytes([["recipient"]]), "r.xlsx") == "r.xlsx has a header but no recipients."
    assert rejection(xlsx_bytes([[]]), "r.xlsx") == "r.xlsx is empty: its first sheet has no values."


def test_xlsx_from_a_stream_that_cannot_seek_is_read_through_a_temporary_copy() -> None:
    data = xlsx_bytes([["recipient"], ["a@example.gov.sg"]])
    recipient_file = RecipientFile(io.BufferedReader(OneWay(data)), "recipients.xlsx")

    assert [row.recipient for row in recipient_file.rows()] == ["a@example.gov.sg"]
    recipient_file.close()


def test_a_spreadsheet_is_told_by_its_content_whatever_its_name() -> None:
    data = xlsx_bytes([["recipient"], ["a@example.gov.sg"]])

    assert [params["recipient"] for _, params, _ in rows_of(data, "recipients.csv")] == ["a@example.gov.sg"]


def _zip(parts: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def test_xlsx_as_other_programs_write_it() -> None:
    # A chart sheet first, dates counted from 1904, custom date and percent formats, rich text with a phonetic
    # guide in the shared strings, cells without references, a date cell (t="d"), a formula never calculated.
    data = _zip({
        "[Content_Types].xml": "<Types/>",
        "xl/workbook.xml": f'<workbook {MAIN} xmlns:r="{RELS}"><workbookPr date1904="1"/><sheets>'
                           '<sheet name="Chart" sheetId="2" r:id="rId2"/><sheet name="List" sheetId="1" r:id="rId1"/>'
                           "</sheets></workbook>",
        "xl/_rels/workbook.xml.rels":
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{RELS}/worksheet" Target="/xl/worksheets/list.xml"/>'
            f'<Relationship Id="rId2" Type="{RELS}/chartsheet" Target="chartsheets/sheet1.xml"/>'
            f'<Relationship Id="rId3" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
            f'<Relationship Id="rId4" Type="{RELS}/styles" Target="styles.xml"/></Relationships>',
        "xl/styles.xml": f'<styleSheet {MAIN}><numFmts><numFmt numFmtId="164" formatCode="dd/mm/yyyy\\ hh:mm"/>'
                         '<numFmt numFmtId="165" formatCode="0.0%"/><numFmt numFmtId="166" '
                         'formatCode="&quot;Ref &quot;0"/></numFmts><cellStyleXfs><xf numFmtId="14"/></cellStyleXfs>'
                         '<cellXfs><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="165"/><xf numFmtId="166"/>'
                         "</cellXfs></styleSheet>",
        "xl/sharedStrings.xml": f'<sst {MAIN}><si><t>recipient</t></si><si><t>when</t></si><si><t>share</t></si>'
                                '<si><t>ref</t></si><si><t>note</t></si><si><r><t>Tan </t></r><r><rPr><b/></rPr>'
                                "<t>Ah Kow</t></r><rPh><t>タン</t></rPh></si></sst>",
        "xl/worksheets/list.xml": f'<worksheet {MAIN}><sheetData>'
                                  '<row><c t="s"><v>0</v></c><c t="s"><v>1</v></c><c t="s"><v>2</v></c>'
                                  '<c t="s"><v>3</v></c><c t="s"><v>4</v></c><c t="s"><v>5</v></c></row>'
                                  '<row><c t="inlineStr"><is><t>a@example.gov.sg</t></is></c><c s="1"><v>44895.4375</v>'
                                  '</c><c s="2"><v>0.125</v></c><c s="3"><v>42</v></c><c><f>A2</f><v/></c>'
                                  '<c t="d"><v>2026-12-01T09:30:00</v></c></row></sheetData></worksheet>',
    })

    recipient_file = read(data, "export.xlsx")
    rows = list(recipient_file.rows())

    assert recipient_file.read_header() == ["recipient", "when", "share", "ref", "note", "tan ah kow"]
    assert [(row.line, row.params) for row in rows] == [(2, {
        "recipient": "a@example.gov.sg", "when": "2026-12-01 10:30", "share": "12.5%", "ref": "42", "note": "",
        "tan ah kow": "2026-12-01 09:30"})]


# -- damaged or wrong files ----------------------------------------------------------------------------------------


def test_a_damaged_workbook_is_named_and_said_to_be_unreadable() -> None:
    data = xlsx_bytes([["recipient"], ["a@example.gov.sg"]])

    truncated = rejection(data[: len(data) // 2], "recipients.xlsx")
    text = rejection(b"recipient\na@example.gov.sg\n", "recipients.xlsx")
    ods_text = rejection(b"recipient\na@example.gov.sg\n", "recipients.ods")

    assert truncated.startswith("recipients.xlsx is not a readable Excel workbook: the file is damaged")
    assert text.startswith("recipients.xlsx is not a readable Excel workbook: its content is not a spreadsheet")
    assert ods_text.startswith("recipients.ods is not a readable OpenDocument spreadsheet")


def test_an_old_xls_or_another_zip_file_is_refused_with_what_to_do() -> None:
    assert "Excel 97-2003 workbook (.xls)" in rejection(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "r.xls")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    assert "is a zip archive but not an Excel workbook" in rejection(buffer.getvalue(), "r.zip")


def test_a_damaged_ods_content_names_the_file() -> None:
    data = ods_bytes([["recipient"], ["a@example.gov.sg"]])
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            target.writestr(item, content[:200] if item.filename == "content.xml" else content)

    assert rejection(out.getvalue(), "recipients.ods").startswith(
        "recipients.ods is not a readable OpenDocument spreadsheet: its content is damaged")


# -- OpenDocument --------------------------------------------------------------------------------------------------


def _cell(**attributes: object) -> TableCell:
    text = attributes.pop("text", None)
    cell = TableCell(**attributes)
    if text is not None:
        cell.addElement(P(text=str(text)))
    return cell


def test_ods_cells_read_as_an_officer_means_them() -> None:
    spaced = TableCell(valuetype="string")
    paragraph = P(text="Tan")
    paragraph.addElement(S(c=2))
    paragraph.addElement(Span(text="Ah Kow"))
    spaced.addElement(paragraph)
    data = ods_bytes([
        ["Recipient", "Name", "Appointment", "Born", "Ref", "Share", "Consent", "Total"],
        ["Officer0@Example.GOV.SG", spaced,
         _cell(valuetype="date", datevalue="2026-12-01T10:00:00", text="01/12/26 10:00"),
         _cell(valuetype="date", datevalue="1980-02-03", text="03/02/80"),
         _cell(valuetype="float", value="6591234567", text="6.59E+09"),
         _cell(valuetype="percentage", value="0.5", text="50%"),
         _cell(valuetype="boolean", booleanvalue="true", text="TRUE"),
         _cell(valuetype="float", value="42", formula="of:=2*21", text="42")],
        [],
        ["officer1@example.gov.sg", "Lim", None, None, _cell(valuetype="float", value="0.30000000000000004"),
         None, None, None],
    ])

    rows = rows_of(data, "recipients.ods")

    assert [line for line, _, _ in rows] == [2, 4]
    assert rows[0][1] == {"recipient": "officer0@example.gov.sg", "name": "Tan  Ah Kow",
                          "appointment": "2026-12-01 10:00", "born": "1980-02-03", "ref": "6591234567",
                          "share": "50%", "consent": "TRUE", "total": "42"}
    assert rows[1][1]["ref"] == "0.3" and rows[1][1]["appointment"] == ""


def test_ods_repeated_and_covered_cells() -> None:
    repeated = TableRow(numberrowsrepeated=2)
    repeated.addElement(_cell(valuetype="string", text="same@example.gov.sg"))
    repeated.addElement(_cell(valuetype="string", text="x", numbercolumnsrepeated=2))
    merged = TableRow()
    merged.addElement(_cell(valuetype="string", text="m@example.gov.sg"))
    merged.addElement(_cell(valuetype="string", text="Tan Ah Kow", numbercolumnsspanned=2))
    merged.addElement(CoveredTableCell())
    merged.addElement(TableCell(numbercolumnsrepeated=1000))  # LibreOffice's empty cells to the sheet's edge
    empty = TableRow(numberrowsrepeated=1_000_000)
    empty.addElement(TableCell(numbercolumnsrepeated=16384))
    data = ods_bytes([["recipient", "first", "last"], repeated, empty, merged], second_table=True)

    rows = rows_of(data, "recipients.ods")

    assert [(line, params) for line, params, _ in rows] == [
        (2, {"recipient": "same@example.gov.sg", "first": "x", "last": "x"}),
        (3, {"recipient": "same@example.gov.sg", "first": "x", "last": "x"}),
        (1_000_004, {"recipient": "m@example.gov.sg", "first": "Tan Ah Kow", "last": ""}),
    ]


def test_ods_value_beyond_the_header_is_named() -> None:
    data = ods_bytes([["recipient"], ["a@example.gov.sg", None, "stray"]])

    assert rejection(data, "recipients.ods").startswith(
        'recipients.ods: row 2, column C has a value ("stray") but the header (row 1) has no column there.')


# -- tab-separated -------------------------------------------------------------------------------------------------


def test_tsv_is_read_with_tabs_between_fields() -> None:
    data = b"recipient\tname\r\na@example.gov.sg\tTan, Ah Kow\r\n\r\nb@example.gov.sg\t\"Lim\tBee\"\r\n"

    assert rows_of(data, "recipients.tsv") == [
        (2, {"recipient": "a@example.gov.sg", "name": "Tan, Ah Kow"}, True),
        (4, {"recipient": "b@example.gov.sg", "name": "Lim\tBee"}, True),
    ]
    assert "line 2 has 3 fields but the header has 2. Check for a missing or extra tab" in rejection(
        b"recipient\tname\na@example.gov.sg\tx\ty\n", "recipients.tsv")


# -- long files ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["xlsx", "ods"])
def test_a_100000_row_spreadsheet_is_read_with_bounded_memory(kind: str) -> None:
    count = 100_000
    data = long_xlsx_bytes(count) if kind == "xlsx" else long_ods_bytes(count)
    tracemalloc.start()
    try:
        rows = last = 0
        for row in read(data, f"long.{kind}", channel="EMAIL").rows():
            rows += 1
            last = row.line
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert rows == count and last == count + 1
    # The file's rows are never held: the peak is the reader's buffers and one row, whatever the length (measured:
    # 0.2-0.4 MiB). Held as Python objects, 100,000 rows of recipients would take well over 50 MiB.
    assert peak < 4 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


# -- the XML as any program may write it (the readers drive expat themselves) --------------------------------------


def _workbook(sheet: str, strings: str | None = None) -> bytes:
    parts = {
        "[Content_Types].xml": "<Types/>",
        "xl/workbook.xml": f'<workbook {MAIN} xmlns:r="{RELS}"><sheets><sheet name="S" sheetId="1" r:id="rId1"/>'
                           "</sheets></workbook>",
        "xl/_rels/workbook.xml.rels":
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": sheet,
    }
    if strings is not None:
        parts["xl/sharedStrings.xml"] = strings
    return _zip(parts)


def test_xlsx_indented_with_a_prefix_entities_and_cdata() -> None:
    # Whitespace between elements is not a cell's text; a prefixed namespace reads as the default one does.
    main = MAIN.replace("xmlns=", "xmlns:x=")
    sheet = (f'<x:worksheet {main}>\n  <x:sheetData>\n    <x:row r="1">\n      <x:c r="A1" t="s">\n'
             '        <x:v>0</x:v>\n      </x:c>\n      <x:c r="B1" t="inlineStr">\n'
             '        <x:is><x:t>name</x:t></x:is>\n      </x:c>\n'
             '    </x:row>\n    <x:row r="2">\n      <x:c r="a2" t="inlineStr"><x:is><x:r><x:t>a@example</x:t></x:r>'
             '<x:r><x:t><![CDATA[.gov.sg]]></x:t></x:r></x:is></x:c>\n      <x:c r="B2" t="s"><x:v>1</x:v></x:c>\n'
             '    </x:row>\n  </x:sheetData>\n</x:worksheet>\n')
    strings = (f'<x:sst {main}>\n  <x:si>\n    <x:t>recipient</x:t>\n  </x:si>\n  <x:si><x:t xml:space="preserve">'
               "Tan &amp; Ah Kow &#x263A;</x:t></x:si>\n</x:sst>")

    assert rows_of(_workbook(sheet, strings), "recipients.xlsx") == [
        (2, {"recipient": "a@example.gov.sg", "name": "Tan & Ah Kow \u263a"}, True)]


def test_xlsx_text_longer_than_a_chunk_of_the_stream_is_read_whole() -> None:
    long_text = "x" * 300_000 + "&amp;" + "y" * 300_000
    sheet = (f'<worksheet {MAIN}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>recipient</t></is></c>'
             '<c r="B1" t="inlineStr"><is><t>note</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>'
             f'a@example.gov.sg</t></is></c><c r="B2" t="inlineStr"><is><t>{long_text}</t></is></c></row>'
             "</sheetData></worksheet>")

    assert rows_of(_workbook(sheet), "recipients.xlsx")[0][1]["note"] == "x" * 300_000 + "&" + "y" * 300_000


def test_the_first_problem_in_the_sheet_is_the_one_reported() -> None:
    # Row 3 has a value beyond the header; row 4's formula failed: both in the same chunk of the stream.
    sheet = (f'<worksheet {MAIN}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>recipient</t></is></c></row>'
             '<row r="2"><c r="A2" t="inlineStr"><is><t>a@example.gov.sg</t></is></c></row>'
             '<row r="3"><c r="A3" t="inlineStr"><is><t>b@example.gov.sg</t></is></c><c r="C3"><v>7</v></c></row>'
             '<row r="4"><c r="A4" t="e"><v>#REF!</v></c></row></sheetData></worksheet>')
    recipient_file = read(_workbook(sheet), "recipients.xlsx")
    rows = recipient_file.rows()

    assert next(rows).recipient == "a@example.gov.sg"
    with pytest.raises(RecipientFileError, match=r"^recipients\.xlsx: row 3, column C has a value \(\"7\"\)"):
        next(rows)


def test_xlsx_damaged_sheet_after_some_rows_names_the_row() -> None:
    sheet = (f'<worksheet {MAIN}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>recipient</t></is></c></row>'
             '<row r="2"><c r="A2" t="inlineStr"><is><t>a@example.gov.sg</t></is></c></row><row r="3"><c')

    assert rejection(_workbook(sheet), "recipients.xlsx").startswith(
        "recipients.xlsx is not a readable Excel workbook: its sheet is damaged")


def test_xlsx_value_beyond_the_column_cap_is_refused() -> None:
    sheet = (f'<worksheet {MAIN}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>recipient</t></is></c>'
             '<c r="ZZ1"/><c r="XFD1"><v>1</v></c></row></sheetData></worksheet>')

    assert "row 1 has values beyond column ALL" in rejection(_workbook(sheet), "recipients.xlsx")


def test_ods_annotations_nested_spans_and_paragraphs() -> None:
    namespaces = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
                  'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
                  'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')
    content = (f'<office:document-content {namespaces}>\n<office:body><office:spreadsheet>\n<table:table>\n'
               '<table:table-row><table:table-cell><text:p>recipient</text:p></table:table-cell>\n'
               '<table:table-cell office:value-type="string"><text:p>note</text:p></table:table-cell>'
               '</table:table-row>\n<table:table-row>\n  <table:table-cell office:value-type="string">\n'
               '    <text:p>a@example.gov.sg</text:p>\n'
               '  </table:table-cell>\n  <table:table-cell office:value-type="string"><office:annotation><text:p>'
               'a comment</text:p></office:annotation><text:p>Tan<text:span>\u00a0Ah<text:s text:c="2"/>Kow</text:span>'
               '<text:tab/>!</text:p><text:h>second<text:line-break/>line</text:h></table:table-cell>\n'
               '</table:table-row>\n</table:table>\n<table:table><table:table-row><table:table-cell '
               'office:value-type="float" office:value="oops"/></table:table-row></table:table>\n'
               "</office:spreadsheet></office:body></office:document-content>")
    data = _zip({"mimetype": "application/vnd.oasis.opendocument.spreadsheet", "content.xml": content})

    assert rows_of(data, "recipients.ods") == [
        (2, {"recipient": "a@example.gov.sg", "note": "Tan\u00a0Ah  Kow\t!\nsecond\nline"}, True)]

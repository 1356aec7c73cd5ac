"""Attachments are judged by their content: each allowed extension must hold the kind of file it names."""

from __future__ import annotations

import io
import zipfile

import pytest

from postman_gateway.api import attachment_types
from postman_gateway.api.attachment_types import AttachmentRefused, check


def package(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def ooxml(main_part: str) -> bytes:
    return package({"[Content_Types].xml": f'<Types><Override PartName="/x.xml" ContentType="{main_part}"/></Types>',
                    "x.xml": "<x/>"})


OOXML = "application/vnd.openxmlformats-officedocument"
XLSX = ooxml(f"{OOXML}.spreadsheetml.sheet.main+xml")
PPTX = ooxml(f"{OOXML}.presentationml.presentation.main+xml")
XLSM = ooxml("application/vnd.ms-excel.sheet.macroEnabled.main+xml")
ODT = package({"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": "<office/>"})


@pytest.mark.parametrize("name, content, mime_type", [
    ("a.pdf", b"%PDF-1.4\n...", "application/pdf"),
    ("A.PDF", b"%PDF-1.4\n...", "application/pdf"),
    ("b.jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
    ("b.jpg", b"\xff\xd8\xff\xdb", "image/jpeg"),
    ("c.gif", b"GIF89a\x01\x00", "image/gif"),
    ("d.tif", b"II*\x00\x08\x00", "image/tiff"),
    ("e.txt", "Grüße, 你好\r\n\tok".encode(), "text/plain"),
    ("f.csv", b"\xef\xbb\xbfname,email\n", "text/csv"),
    ("g.rtf", b"{\\rtf1\\ansi hello}", "application/rtf"),
    ("h.xlsx", XLSX, f"{OOXML}.spreadsheetml.sheet"),
    ("i.pptx", PPTX, f"{OOXML}.presentationml.presentation"),
    ("j.odt", ODT, "application/vnd.oasis.opendocument.text"),
])
def test_allowed_files_whose_content_matches_their_name_pass(name, content, mime_type):
    assert check(name, content).mime_type == mime_type


@pytest.mark.parametrize("name, content, words", [
    ("report.pdf", b"MZ\x90\x00" + bytes(60), "its content is a Windows program"),
    ("report.pdf", b"\x7fELF\x02\x01", "its content is a Linux program"),
    ("sheet.xlsx", XLSM, "not an Office or OpenDocument file of an allowed kind"),
    ("sheet.xlsx", PPTX, "its content is a PowerPoint presentation"),
    ("letter.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "an old Office document"),
    ("archive.zip", package({"a.txt": "x"}), "files ending .zip may not be attached"),
    ("noextension", b"%PDF-1.4", "files ending .(nothing)"),
    ("photo.jpg", b"\x89PNG\r\n\x1a\n", "its content is a PNG image"),
    ("empty.txt", b"", "its content is empty"),
    ("latin1.csv", "café".encode("latin-1"), "of a kind that is not allowed"),
    ("broken.docx", b"PK\x03\x04 not really a zip", "not an Office or OpenDocument file"),
])
def test_files_are_refused_with_their_name_and_what_they_really_are(name, content, words):
    with pytest.raises(AttachmentRefused) as refused:
        check(name, content)
    assert f'"{name}"' in str(refused.value) and words in str(refused.value)


def test_a_huge_manifest_inside_a_zip_is_not_read():
    bomb = package({"[Content_Types].xml": "x" * (attachment_types._LARGEST_MANIFEST + 1)})
    assert attachment_types.detect(bomb) is None

"""Which files a transactional email may carry, judged by their content, not only by their name.

An allowlist of document and image types, close to upstream Postman's: each extension names the kind of content it
must hold, and the content is recognised from its first bytes (its "magic number"); Office Open XML and OpenDocument
files are ZIP archives, recognised by the main part their ``[Content_Types].xml`` (or ``mimetype`` entry) declares,
so a macro-enabled document (``.docm``) renamed ``.docx`` is refused. Plain text (``.txt``, ``.csv``) must be UTF-8
without control characters. A file whose content is not what its name says (an ``.exe`` renamed ``.pdf``), or whose
name has no allowed extension, is refused with a message that names it.

Written here rather than taken from a library: the table is small, and the libraries on PyPI either need libmagic
or do not look inside ZIP-based formats.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

# What the content must be, by extension, and the MIME type it is attached as.
_OOXML = "application/vnd.openxmlformats-officedocument"
_OPEN_DOCUMENT = "application/vnd.oasis.opendocument"


@dataclass(frozen=True)
class Kind:
    name: str  # as a person would say it, in error messages
    mime_type: str


PDF = Kind("a PDF document", "application/pdf")
PNG = Kind("a PNG image", "image/png")
JPEG = Kind("a JPEG image", "image/jpeg")
GIF = Kind("a GIF image", "image/gif")
TIFF = Kind("a TIFF image", "image/tiff")
TEXT = Kind("plain UTF-8 text", "text/plain")
CSV = Kind("plain UTF-8 text", "text/csv")
RTF = Kind("an RTF document", "application/rtf")
DOCX = Kind("a Word document (docx)", f"{_OOXML}.wordprocessingml.document")
XLSX = Kind("an Excel workbook (xlsx)", f"{_OOXML}.spreadsheetml.sheet")
PPTX = Kind("a PowerPoint presentation (pptx)", f"{_OOXML}.presentationml.presentation")
ODT = Kind("an OpenDocument text (odt)", f"{_OPEN_DOCUMENT}.text")
ODS = Kind("an OpenDocument spreadsheet (ods)", f"{_OPEN_DOCUMENT}.spreadsheet")
ODP = Kind("an OpenDocument presentation (odp)", f"{_OPEN_DOCUMENT}.presentation")

ALLOWED: dict[str, Kind] = {
    "pdf": PDF, "png": PNG, "jpg": JPEG, "jpeg": JPEG, "gif": GIF, "tif": TIFF, "tiff": TIFF,
    "txt": TEXT, "csv": CSV, "rtf": RTF, "docx": DOCX, "xlsx": XLSX, "pptx": PPTX, "odt": ODT, "ods": ODS,
    "odp": ODP,
}

_MAGIC: list[tuple[bytes, Kind]] = [
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
    (b"{\\rtf", RTF),
]
# Content we recognise only to say what it is when it is refused.
_KNOWN_OTHERS: list[tuple[bytes, str]] = [
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a Linux program"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document (doc, xls, ppt), which may hold macros"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"#!", "a script"),
]
_OOXML_MAIN_PARTS = {
    f"{_OOXML}.wordprocessingml.document.main+xml": DOCX,
    f"{_OOXML}.spreadsheetml.sheet.main+xml": XLSX,
    f"{_OOXML}.presentationml.presentation.main+xml": PPTX,
}
_OPEN_DOCUMENT_TYPES = {ODT.mime_type: ODT, ODS.mime_type: ODS, ODP.mime_type: ODP}
_CONTENT_TYPES = "[Content_Types].xml"
_LARGEST_MANIFEST = 1024 * 1024  # a [Content_Types].xml is a few KB; a larger one is not read
# Text: any character but the C0 controls other than tab, line feed, form feed and carriage return (and DEL).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_OVERRIDE = re.compile(r'ContentType="([^"]+)"')


class AttachmentRefused(ValueError):
    """The message says which file and why, in words a person can act on."""


def extension_of(file_name: str) -> str:
    return file_name.rpartition(".")[2].lower() if "." in file_name else ""


def detect(content: bytes) -> Kind | None:
    """The allowed kind this content is, or None."""
    for magic, kind in _MAGIC:
        if content.startswith(magic):
            return kind
    if content.startswith(b"PK\x03\x04"):
        return _zip_kind(content)
    if _is_text(content):
        return TEXT
    return None


def describe(content: bytes) -> str:
    """What a refused content is, as far as we can tell."""
    if not content:
        return "empty"
    kind = detect(content)
    if kind is not None:
        return kind.name
    if content.startswith(b"PK\x03\x04"):
        return "a ZIP archive that is not an Office or OpenDocument file of an allowed kind"
    for magic, what in _KNOWN_OTHERS:
        if content.startswith(magic):
            return what
    return "of a kind that is not allowed"


def check(file_name: str, content: bytes) -> Kind:
    """The kind of an attachment whose content agrees with its allowed extension; else AttachmentRefused."""
    extension = extension_of(file_name)
    expected = ALLOWED.get(extension)
    if expected is None:
        allowed = ", ".join(sorted(ALLOWED))
        raise AttachmentRefused(f'attachment "{file_name}": files ending .{extension or "(nothing)"} may not be '
                                f"attached; allowed: {allowed}")
    found = detect(content)
    if found is None or found.name != expected.name:
        raise AttachmentRefused(f'attachment "{file_name}" is named as {expected.name}, but its content is '
                                f"{describe(content)}")
    return expected


def _is_text(content: bytes) -> bool:
    if not content:
        return False
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _CONTROL.search(text) is None


def _zip_kind(content: bytes) -> Kind | None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    with archive:
        names = set(archive.namelist())
        if "mimetype" in names:
            return _OPEN_DOCUMENT_TYPES.get(_small_entry(archive, "mimetype").strip())
        if _CONTENT_TYPES in names:
            declared = _OVERRIDE.findall(_small_entry(archive, _CONTENT_TYPES))
            kinds = {_OOXML_MAIN_PARTS[t] for t in declared if t in _OOXML_MAIN_PARTS}
            # A macro-enabled document declares a different main part (…macroEnabled.main+xml) and none of these.
            return kinds.pop() if len(kinds) == 1 else None
    return None


def _small_entry(archive: zipfile.ZipFile, name: str) -> str:
    info = archive.getinfo(name)
    if info.file_size > _LARGEST_MANIFEST:
        return ""
    try:
        return archive.read(info).decode("utf-8", "replace")
    except (zipfile.BadZipFile, RuntimeError, OSError, ValueError):  # encrypted or corrupt entry
        return ""

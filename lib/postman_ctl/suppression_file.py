"""The recipients of a file that ``postmanctl suppression import`` adds: read, checked with the list's own rules and
normalised here, before any call, so that a bad row is named by its line and an import adds every row or none."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from postman_shared.validators import is_valid_email, normalise_email, normalise_phone

HEADER_NAMES = frozenset({"recipient", "email", "phone", "number", "address"})


class Refused(Exception):
    """Bad input, said in one line: exit code 2."""


def normalised(channel: str, raw: str, region: str) -> str:
    """The recipient as the list stores it (a lower-cased address, an E.164 number), else Refused saying why."""
    if channel == "EMAIL":
        address = normalise_email(raw)
        if not is_valid_email(address):
            raise Refused(f"{raw.strip()[:80]!r} is not a valid email address")
        return address
    number = normalise_phone(raw, region)
    if number is None:
        raise Refused(f"{raw.strip()[:40]!r} is not a valid phone number")
    return number



@dataclass
class RecipientFile:
    """A file's recipients, normalised, each once, in the order of the file; or why its rows are not recipients."""

    recipients: list[str] = field(default_factory=list)
    rows: int = 0  # rows holding a recipient, duplicates included
    problems: list[str] = field(default_factory=list)  # "line 7: 'x' is not a valid email address"


def read_recipients(path: Path, channel: str, region: str) -> RecipientFile:
    """Reads a CSV file (UTF-8, with or without a BOM) whose first column is the recipient; a first row naming the
    column ("email", "phone"...) is a header, blank lines are skipped."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise Refused(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise Refused(f"{path} is not UTF-8 text (line {line}); save it as CSV UTF-8") from None
    found = RecipientFile()
    seen: set[str] = set()
    reader = csv.reader(io.StringIO(text, newline=""))
    first = True
    try:
        for row in reader:
            if not any(value.strip() for value in row):
                continue
            cell = row[0].strip()
            may_be_header, first = first, False
            if not cell:
                found.problems.append(f"line {reader.line_num}: the first column, the recipient, is empty")
                continue
            try:
                recipient = normalised(channel, cell, region)
            except Refused as exc:
                if not (may_be_header and cell.lower() in HEADER_NAMES):
                    found.problems.append(f"line {reader.line_num}: {exc}")
                continue
            found.rows += 1
            if recipient not in seen:
                seen.add(recipient)
                found.recipients.append(recipient)
    except csv.Error as exc:
        raise Refused(f"{path}, line {reader.line_num}: {exc}") from None
    return found

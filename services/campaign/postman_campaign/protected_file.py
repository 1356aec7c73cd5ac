"""The recipient file of a password-protected campaign: one encrypted message per row, checked row by row.

Two shapes are accepted (docs/protected-messages.md):

- version 1, Postman's, as existing integrations make it: ``recipient,payload,passwordhash,id``;
- version 2, made by the officers' page here: ``recipient,payload,accesshash,id,salt,iterations``.

Each row becomes a recipient whose only values are ``recipient`` and ``protectedlink`` (``PUBLIC_URL/p/<v>/<id>``)
and a protected message (``ProtectedRecord``) that holds nothing readable. Every problem names the file, the line
and the column, like any recipient file.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from postman_campaign.recipient_file import RecipientFile, RecipientFileError, RecipientRow
from postman_shared import protected_format
from postman_shared.protected_format import BadPayload

V1_COLUMNS = ("recipient", "payload", "passwordhash", "id")
V2_COLUMNS = ("recipient", "payload", "accesshash", "id", "salt", "iterations")
LINK_KEY = "protectedlink"
RECIPIENT_KEYS = ["recipient", LINK_KEY]  # the only keys a protected campaign's email template may use
MAX_ITERATIONS = 10_000_000  # a reader's browser must derive the key: more would hang it
MAX_PAYLOAD_CHARACTERS = 1_000_000


@dataclass(frozen=True, slots=True)
class ProtectedRecord:
    """What is stored of one row: all of it opaque to the server."""

    id: str
    version: int
    payload: str
    check: str
    salt: str | None
    iterations: int
    line: int


class ProtectedFile:
    """Wraps a ``RecipientFile``: ``read_header()`` says which version, ``rows()`` yields (recipient row, record)."""

    def __init__(self, file: RecipientFile, public_url: str) -> None:
        self._file = file
        self._public_url = public_url.rstrip("/")
        self.version = 0
        self.lines_by_id: dict[str, int] = {}

    @property
    def filename(self) -> str:
        return self._file.filename

    def read_header(self) -> list[str]:
        header = self._file.read_header()
        columns = set(header)
        if columns == set(V1_COLUMNS):
            self.version = 1
        elif columns == set(V2_COLUMNS):
            self.version = 2
        else:
            found = ",".join(header)
            raise RecipientFileError(
                f"{self.filename}: a password-protected campaign takes the file of encrypted messages, with the "
                f"columns {','.join(V1_COLUMNS)} (Postman's format) or {','.join(V2_COLUMNS)} (made by this "
                f"site's recipients page); the header (line 1) has {found}. To protect a file of recipients and "
                "passwords, use the campaign's recipients page, which encrypts it in your browser.", line=1)
        return list(RECIPIENT_KEYS)

    def rows(self) -> Iterator[tuple[RecipientRow, ProtectedRecord]]:
        for row in self._file.rows():
            record = self._record(row)
            link = f"{self._public_url}/p/{record.version}/{record.id}"
            yield RecipientRow(row.line, row.recipient, {"recipient": row.recipient, LINK_KEY: link},
                               row.valid), record

    def _record(self, row: RecipientRow) -> ProtectedRecord:
        values, line = row.params, row.line

        def problem(column: str, what: str) -> RecipientFileError:
            return RecipientFileError(f"{self.filename}: line {line}, column {column}: {what}", line=line)

        message_id = _uuid_or_none(values["id"])
        if message_id is None:
            raise problem("id", f"{values['id'][:60]!r} is not a UUID (like 5f1c2a9e-8d3b-4c6e-9a7f-2b1d3e4f5a60)")
        if (first := self.lines_by_id.get(message_id)) is not None:
            raise problem("id", f"{message_id} is also the id of line {first}: every message needs its own id")
        self.lines_by_id[message_id] = line
        payload = values["payload"].strip()
        if len(payload) > MAX_PAYLOAD_CHARACTERS:
            raise problem("payload", f"the message is longer than {MAX_PAYLOAD_CHARACTERS:,} characters")
        try:
            protected_format.split_payload(payload)
        except BadPayload as exc:
            raise problem("payload", f"it is not an encrypted message ({exc})") from None
        check_column = "passwordhash" if self.version == 1 else "accesshash"
        check = values[check_column].strip()
        if not _is_base64_of(check, 32):
            raise problem(check_column, "it must be the base64 of a SHA-256 digest (44 characters)")
        if self.version == 1:
            return ProtectedRecord(message_id, 1, payload, check, None, protected_format.V1_ITERATIONS, line)
        salt = values["salt"].strip()
        if not _is_base64_of(salt, protected_format.V2_SALT_BYTES):
            raise problem("salt", f"it must be the base64 of {protected_format.V2_SALT_BYTES} random bytes")
        text = values["iterations"].strip()
        iterations = int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else 0
        if not protected_format.V2_MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
            raise problem("iterations", f"{text[:20]!r} must be a whole number from "
                                        f"{protected_format.V2_MIN_ITERATIONS:,} to {MAX_ITERATIONS:,}")
        return ProtectedRecord(message_id, 2, payload, check, salt, iterations, line)


def _uuid_or_none(text: str) -> str | None:
    text = text.strip()
    if len(text) != 36:
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def _is_base64_of(text: str, length: int) -> bool:
    try:
        return len(protected_format.unb64(text)) == length
    except BadPayload:
        return False

"""Bulk storage of recipients: ``COPY ... FROM STDIN`` fed lazily from the file reader, and keyset-paged reads.

Rows are never held in memory as a whole: psycopg2 pulls chunks of COPY text from ``RecipientCopySource.read`` while
the reader parses the next rows, so a 1,000,000-row file costs the memory of one chunk.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, select

from postman_campaign.models import Recipient

COPY_RECIPIENTS = "COPY recipients (campaign_id, line, recipient, params, valid) FROM STDIN"
COPY_CHUNK_ROWS = 2000  # rows per read() call: large enough to amortise the call, small enough to stay cheap

# COPY text format: backslash, tab, newline and carriage return must be escaped; NUL cannot be stored in text.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": ""})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r\x00]")


class CopyInterrupted(Exception):
    """The service is stopping: the COPY is abandoned and its transaction rolled back."""


def copy_text(value: str) -> str:
    """``value`` escaped for a field of COPY's text format."""
    if _NEEDS_ESCAPE.search(value) is None:
        return value
    return value.translate(_COPY_ESCAPES)


def params_json(params: dict[str, str]) -> str:
    """Params as JSON, escaped for COPY text. JSON already escapes control characters; only backslashes remain."""
    text = json.dumps(params, ensure_ascii=False, separators=(",", ":"))
    if "\\u0000" in text:  # jsonb rejects NUL; drop it from the values (rare, so the slow path is fine)
        text = json.dumps({k: v.replace("\x00", "") for k, v in params.items()}, ensure_ascii=False,
                          separators=(",", ":"))
    return text.replace("\\", "\\\\")


class RecipientCopySource:
    """A file-like object for ``cursor.copy_expert``: COPY text lines made on demand from recipient rows.

    ``rows`` yields objects with ``line``, ``recipient``, ``params`` and ``valid``. psycopg2 replaces an exception
    raised in ``read`` by a generic one, so the original is kept in ``error`` for the caller to re-raise.
    """

    def __init__(self, campaign_id: int, rows: Iterable[Any], on_progress: Callable[[int], None] | None = None,
                 progress_every: int = 10_000, should_stop: Callable[[], bool] | None = None) -> None:
        self._prefix = f"{int(campaign_id)}\t"
        self._rows: Iterator[Any] = iter(rows)
        self._on_progress = on_progress
        self._progress_every = progress_every
        self._next_progress = progress_every
        self._should_stop = should_stop
        self.count = 0
        self.invalid = 0
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> str:
        try:
            return self._next_chunk()
        except BaseException as exc:
            self.error = exc
            raise

    def _next_chunk(self) -> str:
        if self._should_stop is not None and self._should_stop():
            raise CopyInterrupted("the service is stopping")
        prefix, lines, invalid = self._prefix, [], 0
        for row in self._rows:
            valid = row.valid
            if not valid:
                invalid += 1
            lines.append(f"{prefix}{row.line}\t{copy_text(row.recipient)}\t{params_json(row.params)}\t"
                         f"{'t' if valid else 'f'}\n")
            if len(lines) >= COPY_CHUNK_ROWS:
                break
        self.count += len(lines)
        self.invalid += invalid
        if self._on_progress is not None and self.count >= self._next_progress:
            self._next_progress = (self.count // self._progress_every + 1) * self._progress_every
            self._on_progress(self.count)
        return "".join(lines)  # "" tells psycopg2 the data is finished


def copy_recipients(dbapi_connection: Any, source: RecipientCopySource) -> None:
    """Runs the COPY on a raw psycopg2 connection (inside the caller's transaction); re-raises the reader's error."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.copy_expert(COPY_RECIPIENTS, source, size=65536)
    except Exception:
        if source.error is not None:
            raise source.error from None
        raise
    finally:
        cursor.close()


_recipients = Recipient.__table__


def recipients_after(connection: Connection, campaign_id: int, after_id: int, limit: int,
                     valid_only: bool) -> Sequence[Any]:
    """The next ``limit`` recipients with id > ``after_id``, in id order (keyset paging on (campaign_id, id))."""
    c = _recipients.c
    query = (
        select(c.id, c.recipient, c.params, c.valid, c.line)
        .where(c.campaign_id == campaign_id, c.id > after_id)
        .order_by(c.id)
        .limit(limit)
    )
    if valid_only:
        query = query.where(c.valid.is_(True))
    return connection.execute(query).all()

"""The campaign page's downloads: the failed, the invalid or all recipients (the export) as CSV, streamed from the
stats service's export as its batches arrive, so memory stays flat for any size.

Cells are written to be opened in a spreadsheet safely: a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a
tab or carriage return) would be read as a formula by Excel or Sheets, so it gets a leading ``'`` (OWASP's advice
on CSV injection). A recipient file is written by anyone who can hand one to an officer, so its values are not
trusted; a phone number then reads ``'+6591234567``, which spreadsheets show as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

import grpc
from flask import Response

from postman.v1 import stats_pb2
from postman_gateway.core import export_slots
from postman_gateway.core.backends import backends
from postman_shared.grpc.errors import from_rpc_error
from postman_shared.logging import get_logger
from postman_shared.timestamps import to_iso

EXPORT_TIMEOUT_SECONDS = 3600.0  # a large campaign streams for a while; this only guards against a stuck service
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HEADER = ("recipient", "status", "error_code", "updated_at")
# What each download holds: the export statuses it keeps.
KINDS: dict[str, tuple[str, ...] | None] = {"failed": ("ERROR",), "invalid": ("INVALID",), "all": None}


def safe_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_lines(rows: Iterable[Iterable[str]]) -> Iterator[str]:
    """Each row as one CSV line (RFC 4180 quoting, CRLF), every cell made formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _rows(first: stats_pb2.ExportBatch | None, batches: Iterator[stats_pb2.ExportBatch],
          statuses: tuple[str, ...] | None, campaign_id: int) -> Iterator[tuple[str, ...]]:
    yield HEADER
    try:
        batch = first
        while batch is not None:
            for row in batch.rows:
                if statuses is None or row.status in statuses:
                    yield row.recipient, row.status, row.error_code, to_iso(row.updated_at) or ""
            batch = next(batches, None)
    except grpc.RpcError as exc:
        # Too late to change the status: the file ends with a line saying it is incomplete, so nobody takes a
        # partial list for the whole one.
        get_logger(component="gateway").error("csv export stream failed", campaign_id=campaign_id,
                                              code=str(exc.code()))
        yield ("The download stopped before the end: download it again",)
    finally:
        batches.cancel()  # type: ignore[attr-defined]


def download(campaign_id: int, user_id: int, kind: str, filename: str) -> Response:
    """The ``kind`` (``failed``, ``invalid`` or ``all``) recipients of the campaign as a CSV attachment. The first
    batch is read before answering, so a campaign that is not the user's is a 404 page, not a 200 with a broken
    file."""

    def respond() -> Response:
        batches = backends().stats.ExportCampaign(stats_pb2.StatsRequest(campaign_id=campaign_id, user_id=user_id),
                                                  timeout=EXPORT_TIMEOUT_SECONDS, wait_for_ready=False)
        try:
            first = next(batches, None)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        response = Response(csv_lines(_rows(first, batches, KINDS[kind], campaign_id)), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        response.headers["Cache-Control"] = "no-store"  # recipients' addresses: not for shared caches
        return response

    # Shares the API export's slots (EXPORTS_PER_USER): a download holds a request thread just the same.
    return export_slots.streamed(user_id, respond)

"""Conversions between datetimes, protobuf Timestamps and the API's ISO-8601 strings."""

from __future__ import annotations

from datetime import datetime, timezone

from google.protobuf.timestamp_pb2 import Timestamp


def to_timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc))
    return ts


def to_iso(ts: Timestamp | None) -> str | None:
    """ISO-8601 with milliseconds and Z, like Postman's API; None for an unset Timestamp."""
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return None
    dt = ts.ToDatetime(tzinfo=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)

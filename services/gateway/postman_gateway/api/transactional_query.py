"""The list query of ``GET /v1/transactional/{email,sms}``: ``limit``, ``offset``, ``status`` (the key repeated, or
one value), ``created_at`` bounds written ``created_at.gt=`` (the client) or ``created_at[gt]=`` (the upstream
server's form), and ``sort_by`` (repeated; ``created_at``, ``+created_at``, ``-updated_at``...). Both channels read
it the same way; the allowed statuses differ."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flask import request

from postman_gateway.core.errors import api_validation
from postman_gateway.core.validation import query_int

BOUNDS = ("gt", "gte", "lt", "lte")
SORTS = ("created_at", "updated_at")
MAX_LIMIT = 100


@dataclass(frozen=True)
class ListQuery:
    limit: int
    offset: int
    statuses: list[str]
    created_at: dict[str, datetime] = field(default_factory=dict)
    sort_by: list[str] = field(default_factory=list)


def _repeated(name: str) -> list[str]:
    """Every value of ``name`` (also ``name[]``), a single value split on commas too."""
    values: list[str] = []
    for raw in request.args.getlist(name) + request.args.getlist(f"{name}[]"):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values


def _instant(raw: str, name: str) -> datetime:
    text = raw.strip().replace(" ", "+")  # a "+" of an offset that arrived unencoded reads as a space
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise api_validation(name, "must be an ISO-8601 date-time, e.g. 2026-11-27T08:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def list_query(statuses: Collection[str]) -> ListQuery:
    chosen = [s.upper() for s in _repeated("status")]
    for status in chosen:
        if status not in statuses:
            raise api_validation("status", f"must be one of {', '.join(statuses)}")
    bounds: dict[str, datetime] = {}
    for bound in BOUNDS:
        for name in (f"created_at.{bound}", f"created_at[{bound}]"):
            raw = request.args.get(name)
            if raw:
                bounds[bound] = _instant(raw, name)
    sort_by = _repeated("sort_by")
    for sort in sort_by:
        if sort.lstrip("+-") not in SORTS or len(sort) - len(sort.lstrip("+-")) > 1:
            raise api_validation("sort_by", "must be created_at or updated_at, optionally after + (ascending) or - "
                                            "(descending)")
    return ListQuery(limit=query_int("limit", 10, 1, MAX_LIMIT), offset=query_int("offset", 0, 0),
                     statuses=chosen, created_at=bounds, sort_by=sort_by or ["created_at"])

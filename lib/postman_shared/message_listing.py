"""The list of a user's transactional messages (email and SMS alike): the query the API allows (page, statuses,
a created_at window, sort order), checked once, and turned into one SQL query per page.

A page is read with one extra row to know whether there are more (``has_more``), never with a count.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, select

from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument

MAX_LIMIT = 100
SORTS = ("created_at", "updated_at")

Row = TypeVar("Row")


@dataclass(frozen=True)
class TimeRange:
    gt: datetime | None = None
    gte: datetime | None = None
    lt: datetime | None = None
    lte: datetime | None = None


@dataclass(frozen=True)
class MessageQuery:
    user_id: int
    limit: int = 10
    offset: int = 0
    statuses: tuple[str, ...] = ()
    created_at: TimeRange = TimeRange()
    sort_by: tuple[str, ...] = ("created_at",)  # created_at | updated_at, "+" ascending, "-" or none descending
    tag: str = ""  # email only


def check_query(query: MessageQuery, statuses: Collection[str]) -> MessageQuery:
    """The query if every part is allowed, else an ``api_validation`` error naming the part."""
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}", code=ErrorCode.API_VALIDATION)
    if query.offset < 0:
        raise InvalidArgument("offset must be 0 or more", code=ErrorCode.API_VALIDATION)
    for status in query.statuses:
        if status not in statuses:
            raise InvalidArgument(f"status {status!r} is not one of {', '.join(statuses)}",
                                  code=ErrorCode.API_VALIDATION)
    for sort in query.sort_by:
        if sort.lstrip("+-") not in SORTS:
            raise InvalidArgument(f"sort_by {sort!r} is not one of created_at, updated_at (with + or - before it)",
                                  code=ErrorCode.API_VALIDATION)
    return query


def select_messages(model: Any, query: MessageQuery) -> Select[Any]:
    """The user's rows of ``model`` (a table with user_id, status, created_at, updated_at, id) that the query asks
    for, in its order (newest first by default; id breaks ties)."""
    statement = select(model).where(model.user_id == query.user_id)
    if query.statuses:
        statement = statement.where(model.status.in_(query.statuses))
    if query.tag:
        statement = statement.where(model.tag == query.tag)
    window = query.created_at
    bounds = [condition for condition in (
        model.created_at > window.gt if window.gt else None,
        model.created_at >= window.gte if window.gte else None,
        model.created_at < window.lt if window.lt else None,
        model.created_at <= window.lte if window.lte else None,
    ) if condition is not None]
    if bounds:
        statement = statement.where(and_(*bounds))
    order = []
    for sort in query.sort_by or ("created_at",):
        column = getattr(model, sort.lstrip("+-"))
        order.append(column.asc() if sort.startswith("+") else column.desc())
    return statement.order_by(*order, model.id.desc())


def page_of(database: Database, model: type[Row], query: MessageQuery) -> tuple[list[Row], bool]:
    """One page of the user's messages (detached from the session) and whether there are more."""
    with database.session() as session:
        rows = list(session.scalars(select_messages(model, query).offset(query.offset).limit(query.limit + 1)))
        for row in rows:
            session.expunge(row)
    return rows[:query.limit], len(rows) > query.limit

"""Transactional outbox: messages are written in the same transaction as the change that justifies them, and
published only after that transaction commits.

``write`` adds rows inside the caller's unit of work. ``OutboxRelay.flush`` publishes pending rows with confirms and
deletes them; a service calls it right after its commit and also periodically, so a crash between commit and publish
only delays the message.

A row keeps the correlation ids and trace context of the work that wrote it (``headers``), and is published with
them, not with those of whichever request or loop happens to flush it: a flush publishes every pending row, other
requests' included.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Identity, MetaData, String, Table, delete, func, insert, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from postman_shared import correlation, tracing
from postman_shared.broker.publisher import OutgoingMessage, Publisher, PublishError
from postman_shared.db import Database
from postman_shared.logging import get_logger

log = get_logger(component="outbox")


def outbox_table(metadata: MetaData, name: str = "outbox") -> Table:
    return Table(
        name,
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("routing_key", String(100), nullable=False),
        Column("message_id", String(200), nullable=False),
        Column("body", JSONB, nullable=False),
        Column("headers", JSONB, nullable=True),  # correlation ids and trace context of the writer
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def write(session: Session, table: Table, routing_key: str, message_id: str, body: dict[str, Any]) -> None:
    headers = correlation.amqp_headers()
    if tracing.enabled():
        tracing.inject(headers)
    session.execute(insert(table).values(routing_key=routing_key, message_id=message_id, body=body,
                                         headers=headers or None))


class OutboxRelay:
    def __init__(self, database: Database, table: Table, publisher: Publisher, batch_size: int = 500) -> None:
        self._database = database
        self._table = table
        self._publisher = publisher
        self._batch_size = batch_size
        self._lock = threading.Lock()

    def flush(self) -> int:
        """Publishes every pending message; returns how many. Safe to call from several threads and processes."""
        total = 0
        with self._lock:
            while True:
                with self._database.unit_of_work() as session:
                    rows = session.execute(
                        select(self._table)
                        .order_by(self._table.c.id)
                        .limit(self._batch_size)
                        .with_for_update(skip_locked=True)
                    ).all()
                    if not rows:
                        return total
                    # In an empty context: each message carries its writer's ids, none of the flushing thread's.
                    contextvars.Context().run(self._publisher.publish, [
                        OutgoingMessage(r.routing_key, r.body, r.message_id, headers=r.headers or {}) for r in rows])
                    session.execute(delete(self._table).where(self._table.c.id.in_([r.id for r in rows])))
                total += len(rows)

    def run_periodically(self, stop: threading.Event, interval: float = 2.0) -> None:
        while not stop.wait(interval):
            try:
                self.flush()
            except (PublishError, Exception) as exc:  # noqa: BLE001 - retried on the next tick
                log.warning("outbox flush failed, will retry", error=str(exc))

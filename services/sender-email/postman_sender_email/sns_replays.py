"""Dropping replayed SNS messages: an SES event applied once is not applied again when its SNS message comes back.

Whoever captures one genuine SNS notification (a log, a proxy, a misrouted subscription) holds a validly signed
message: posted again later, a Bounce would suppress an address that was lifted since, a Complaint count again
towards halting a campaign. The gateway refuses a message signed more than an hour ago; within that hour this
memory refuses a copy. It is a table (``sns_messages_seen``), so every gateway and sender-email replica shares it.

Only an event's first attempt is checked: one that comes back from ``email.events.retry`` is this sender's own
retry, not a replay. Ids are remembered after the batch that applied them has been handled, so a batch that fails
half-way is applied again in full when the queue redelivers it (applying is idempotent). Rows are deleted
``KEEP`` after they were written, at most once a minute per process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from postman_sender_email.models import SnsMessageSeen
from postman_shared.db import Database

# Longer than the gateway accepts a message (sns.MAX_AGE, an hour, plus its clock skew), so no copy outlives its id.
KEEP = timedelta(hours=2)
PURGE_EVERY_SECONDS = 60.0


class ReplayMemory:
    """The SNS message ids already applied. Thread-safe."""

    def __init__(self, database: Database, clock: Callable[[], float] = time.monotonic) -> None:
        self._database = database
        self._clock = clock
        self._lock = threading.Lock()
        self._next_purge = 0.0

    def seen(self, message_ids: Collection[str]) -> set[str]:
        """Those of ``message_ids`` already applied (one indexed query)."""
        if not message_ids:
            return set()
        with self._database.session() as session:
            return set(session.scalars(select(SnsMessageSeen.message_id).where(
                SnsMessageSeen.message_id.in_(set(message_ids)))))

    def remember(self, message_ids: Collection[str]) -> None:
        """Records ``message_ids`` as applied (an id already there stays as it was), and now and then forgets the
        ids older than ``KEEP``."""
        if message_ids:
            with self._database.unit_of_work() as session:
                session.execute(insert(SnsMessageSeen).values([{"message_id": i} for i in sorted(set(message_ids))])
                                .on_conflict_do_nothing(index_elements=[SnsMessageSeen.message_id]))
        self._purge_now_and_then()

    def _purge_now_and_then(self) -> None:
        now = self._clock()
        with self._lock:
            if now < self._next_purge:
                return
            self._next_purge = now + PURGE_EVERY_SECONDS
        with self._database.unit_of_work() as session:
            session.execute(delete(SnsMessageSeen).where(SnsMessageSeen.seen_at < func.now() - KEEP))

"""SQLAlchemy engine and unit of work. Created by a service's bootstrap, never at import time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Engine, MetaData, create_engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from postman_shared.logging import get_logger

log = get_logger(component="database")

T = TypeVar("T")

# How long a sender keeps trying to record what its provider has already accepted: a database restart or failover
# takes seconds, and giving up means the batch is redelivered and those messages are sent again.
RECORD_RETRY_SECONDS = 20.0


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return True

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def sqlalchemy_url(url: str) -> str:
    """DATABASE_URL is a plain libpq URL; SQLAlchemy is told to use psycopg2 for it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


class Database:
    """One engine and one session factory for a process."""

    def __init__(self, url: str, pool_size: int = 5) -> None:
        self.engine: Engine = create_engine(
            sqlalchemy_url(url), pool_size=pool_size, max_overflow=10, pool_pre_ping=True
        )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session whose work is committed when the block ends and rolled back if it raises."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read-only style session: nothing is committed."""
        session = self._sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()

    def unit_of_work_retried(self, work: Callable[[Session], T], within: float = RECORD_RETRY_SECONDS,
                             wait: Callable[[float], bool] | None = None, what: str = "work") -> T:
        """``work`` in a unit of work, done again (in a new one) while the database cannot be reached, for up to
        ``within`` seconds; then the last error is raised. ``wait(seconds)`` passes the time between tries and says
        whether to go on (a consumer's ``pause``: heartbeats serviced, False once the service stops). Only for
        idempotent work (a commit whose answer was lost may have happened): the senders' records
        insert-or-keep-the-first.

        make chaos: a PostgreSQL restart (~2.5 s) failed a Telegram batch's record after its messages were handed
        to the Bot API; the batch was redelivered and 564 of 3,000 recipients got their message twice."""
        wait = wait or _sleep
        deadline = time.monotonic() + within
        pause = 0.25
        while True:
            try:
                with self.unit_of_work() as session:
                    return work(session)
            except Exception as exc:
                if not unreachable(exc) or time.monotonic() + pause > deadline:
                    raise
                log.warning("database unreachable, trying again", what=what, pause_s=pause,
                            error=type(exc).__name__)
                if not wait(pause):
                    raise
                pause = min(pause * 2, 2.0)


def unreachable(exc: BaseException) -> bool:
    """The error says the database could not be reached or the connection broke, not that the work was wrong."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (OperationalError, InterfaceError))


__all__ = ["Database", "DeclarativeBase", "new_metadata"]

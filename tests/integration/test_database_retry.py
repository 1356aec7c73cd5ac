"""A sender's record of what its provider accepted survives a database restart: ``Database.unit_of_work_retried``
against the real PostgreSQL, reached through a port that refuses connections for a while (the stand-in for a
restart; the machine's own server is never restarted by a test)."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from postman_shared.db import Database
from tests.support.stores import free_port
from tests.support.tcp_forwarder import Forwarder


@pytest.fixture
def behind_forwarder(stores):
    url = urlsplit(stores.database_url)
    forwarder = Forwarder(free_port(), (url.hostname or "127.0.0.1", url.port or 5432))
    netloc = f"{url.username}@127.0.0.1:{forwarder.port}"
    database = Database(urlunsplit(url._replace(netloc=netloc)))
    direct = Database(stores.database_url)
    with direct.unit_of_work() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS retry_probe (id text PRIMARY KEY)"))
    yield forwarder, database, direct
    database.dispose()
    with direct.unit_of_work() as session:
        session.execute(text("DROP TABLE IF EXISTS retry_probe"))
    direct.dispose()
    forwarder.close()


def _insert(session, value: str) -> str:
    session.execute(text("INSERT INTO retry_probe VALUES (:v) ON CONFLICT DO NOTHING"), {"v": value})
    return value


def test_work_is_done_once_the_database_is_back_within_the_time_allowed(behind_forwarder):
    forwarder, database, direct = behind_forwarder
    calls: list[float] = []

    def work(session):
        calls.append(time.monotonic())
        return _insert(session, "after-restart")

    threading.Timer(1.5, forwarder.open).start()  # the "restart" takes 1.5 s
    assert database.unit_of_work_retried(work, within=20) == "after-restart"
    assert len(calls) >= 1 and forwarder.accepted >= 1
    with direct.session() as session:
        assert session.execute(text("SELECT id FROM retry_probe")).scalars().all() == ["after-restart"]


def test_without_the_retry_the_same_outage_fails_the_work(behind_forwarder):
    forwarder, database, _direct = behind_forwarder
    threading.Timer(1.5, forwarder.open).start()
    with pytest.raises(OperationalError):
        with database.unit_of_work() as session:
            _insert(session, "lost")


def test_the_last_error_is_raised_when_the_database_stays_away(behind_forwarder):
    _forwarder, database, _direct = behind_forwarder
    started = time.monotonic()
    with pytest.raises(OperationalError):
        database.unit_of_work_retried(lambda session: _insert(session, "never"), within=1.0)
    assert time.monotonic() - started < 10


def test_a_stopping_consumer_ends_the_retries_at_once(behind_forwarder):
    _forwarder, database, _direct = behind_forwarder
    waits: list[float] = []

    def stopping(seconds: float) -> bool:
        waits.append(seconds)
        return False

    with pytest.raises(OperationalError):
        database.unit_of_work_retried(lambda session: _insert(session, "never"), within=20, wait=stopping)
    assert len(waits) == 1


def test_work_that_is_wrong_is_not_tried_again(behind_forwarder):
    forwarder, database, _direct = behind_forwarder
    forwarder.open()
    calls: list[int] = []

    def wrong(session):
        calls.append(1)
        session.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(ProgrammingError):
        database.unit_of_work_retried(wrong, within=20)
    assert calls == [1]

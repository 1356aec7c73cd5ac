"""Password-protected messages: stored from a protected campaign's file, opened by their recipients, erased when
they expire.

Storing: the upload worker reads the file through ``ProtectedFile``; the recipients go to ``COPY recipients`` and the
encrypted messages are spooled (memory, then a temporary file) and copied into ``protected_messages`` in the same
transaction, so the list and its messages are replaced together or not at all.

Opening: the reader's page sends a proof (v1: Postman's password hash; v2: the access token). Wrong proofs are
counted per message id in ``protected_message_attempts``, for ids that exist and ids that do not alike, so the
answer never says whether an id exists; the attempt row is locked while a proof is checked, so parallel guesses
are counted one after another and no more than ``max_attempts`` are ever checked in a window.

Expiry: a message expires ``retention_days`` after its campaign is sent (or uploaded, if never sent); then its
payload and check value are erased and the link says that it has expired.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from postman_campaign.models import ProtectedMessage, ProtectedMessageAttempt
from postman_campaign.protected_file import ProtectedFile, ProtectedRecord
from postman_campaign.recipient_file import RecipientFile, RecipientFileError, RecipientRow
from postman_campaign.recipients_store import copy_text
from postman_campaign.statuses import ProtectedMessageState
from postman_shared import protected_format
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, ServiceError
from postman_shared.logging import get_logger
from postman_shared.settings import Settings, SettingsError
from postman_shared.timestamps import utcnow
from postman_shared.unsubscribe_links import is_local_development

READY, EXPIRED = ProtectedMessageState.READY, ProtectedMessageState.EXPIRED
SPOOL_MEMORY_BYTES = 8 * 1024 * 1024
EXPIRE_BATCH = 5_000
COPY_PROTECTED = ("COPY protected_messages (id, campaign_id, version, payload, check_value, salt, iterations, "
                  "expires_at) FROM STDIN")
_DUPLICATE_KEY = re.compile(r"Key \(id\)=\(([0-9a-f-]{36})\)")  # psycopg2's detail; bounded, no backtracking

log = get_logger(component="protected-messages")


# -- storing ------------------------------------------------------------------------------------------------------

@dataclass
class Spool:
    """One upload's encrypted messages, in COPY text, waiting for the recipients' COPY to finish."""

    campaign_id: int
    expires: str
    file: IO[str]


@dataclass(frozen=True)
class ProtectedStorage:
    """Shared by the upload worker threads: everything per upload lives in its ``Spool``."""

    public_url: str
    retention_days: int

    def reader(self, file: RecipientFile) -> ProtectedFile:
        return ProtectedFile(file, self.public_url)

    def spool(self, session: Session, campaign_id: int) -> Spool:
        """Deletes the campaign's previous messages (in the caller's transaction) and opens the spool."""
        session.execute(delete(ProtectedMessage).where(ProtectedMessage.campaign_id == campaign_id))
        expires = (utcnow() + timedelta(days=self.retention_days)).isoformat()
        return Spool(campaign_id, expires, tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by store()
            max_size=SPOOL_MEMORY_BYTES, mode="w+", encoding="utf-8"))

    def recipients_of(self, file: ProtectedFile, spool: Spool) -> Iterator[RecipientRow]:
        middle, expires, out = f"\t{int(spool.campaign_id)}\t", spool.expires, spool.file
        for row, record in file.rows():
            salt = copy_text(record.salt) if record.salt else "\\N"
            out.write(f"{record.id}{middle}{record.version}\t{copy_text(record.payload)}\t"
                      f"{copy_text(record.check)}\t{salt}\t{record.iterations}\t{expires}\n")
            yield row

    def store(self, dbapi_connection: Any, spool: Spool, file: ProtectedFile) -> None:
        """COPYs the spooled messages; an id another campaign already uses is the file's problem, by line."""
        import psycopg2.errors

        spool.file.seek(0)
        cursor = dbapi_connection.cursor()
        try:
            cursor.copy_expert(COPY_PROTECTED, spool.file, size=65536)
        except psycopg2.errors.UniqueViolation as exc:
            found = _DUPLICATE_KEY.search(getattr(exc.diag, "message_detail", "") or "")
            line = file.lines_by_id.get(found.group(1)) if found else None
            where = f"line {line}, column id" if line else "a row"
            raise RecipientFileError(
                f"{file.filename}: {where}: the id {found.group(1) if found else ''} is already the id of a message "
                "of another campaign: every message needs a new random id (a UUID)", line=line) from None
        finally:
            cursor.close()
            spool.file.close()

    def discard(self, spool: Spool) -> None:
        spool.file.close()


def extend_expiry(session: Session, campaign_id: int, sent_at: datetime, retention_days: int) -> None:
    """At the send: the campaign's messages expire ``retention_days`` after ``sent_at`` (a scheduled send's time)."""
    session.execute(update(ProtectedMessage).where(
        ProtectedMessage.campaign_id == campaign_id, ProtectedMessage.expired_at.is_(None)).values(
        expires_at=sent_at + timedelta(days=retention_days)))


# -- opening ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Description:
    state: str
    kdf: str
    iterations: int
    salt: str


@dataclass(frozen=True)
class OpeningRules:
    """How the recipient's side opens messages: the key of the stand-in parameters of unknown ids, and the attempt
    limit (``max_attempts`` wrong proofs per message id, then locked for ``lock_minutes``)."""

    decoy_key: bytes
    max_attempts: int = 10
    lock_minutes: int = 15

    @classmethod
    def from_settings(cls, settings: Settings) -> "OpeningRules":
        key = settings.protect_decoy_key.strip()
        if not key:
            if not is_local_development(settings.public_url):
                raise SettingsError("PROTECT_DECOY_KEY must be set (e.g. $(openssl rand -hex 32)): the stand-in "
                                    "parameters of unknown protected-message ids are made with it, so that they "
                                    "cannot be told from real ones; a random key is used only when PUBLIC_URL is "
                                    "localhost")
            key = secrets.token_hex(32)
        elif len(key) < 16:
            raise SettingsError("PROTECT_DECOY_KEY is too short: use at least 16 random characters")
        return cls(key.encode(), settings.protect_max_attempts, settings.protect_lock_minutes)


def describe_message(database: Database, rules: OpeningRules, message_id: str, version: int) -> Description:
    """What the page needs to derive the key. An id that does not exist gets stand-in parameters that stay the
    same on every request (an HMAC of the id), so they cannot be told from a real message's."""
    canonical = canonical_id(message_id)
    row = None
    if canonical is not None:
        with database.session() as session:
            row = session.execute(select(
                ProtectedMessage.version, ProtectedMessage.salt, ProtectedMessage.iterations,
                ProtectedMessage.expired_at).where(ProtectedMessage.id == canonical)).one_or_none()
    if row is not None and row.expired_at is not None:
        return Description(EXPIRED, protected_format.KDF_NAME, 0, "")
    if version == 1:
        return Description(READY, protected_format.KDF_NAME, protected_format.V1_ITERATIONS, message_id)
    if row is not None and row.version == 2:
        return Description(READY, protected_format.KDF_NAME, row.iterations, row.salt or "")
    decoy = hmac.new(rules.decoy_key, f"v2 salt {message_id}".encode(), hashlib.sha256).digest()
    return Description(READY, protected_format.KDF_NAME, protected_format.V2_ITERATIONS,
                       protected_format.b64(decoy[:protected_format.V2_SALT_BYTES]))


def open_message(database: Database, rules: OpeningRules, message_id: str, proof: str) -> tuple[str, int]:
    """(payload, version) for a proof that opens the message; ServiceError wrong_password (also for an
    unknown id), message_locked (with the seconds to wait) or message_expired."""
    canonical = canonical_id(message_id)
    if canonical is None or not proof or len(proof) > 256:
        _count("wrong")
        raise _wrong_password()
    lock = timedelta(minutes=rules.lock_minutes)
    with database.unit_of_work() as session:
        now = session.scalar(select(text("now()")))
        attempt = _attempt_row(session, canonical, now, lock)
        if attempt.failures >= rules.max_attempts:
            wait = math.ceil((attempt.window_started_at + lock - now).total_seconds())
            locked = True
        else:
            locked = False
            message = session.execute(select(
                ProtectedMessage.version, ProtectedMessage.payload, ProtectedMessage.check_value,
                ProtectedMessage.expired_at).where(ProtectedMessage.id == canonical)).one_or_none()
            if message is not None and message.expired_at is not None:
                outcome = "expired"
            elif (message is not None and message.check_value
                  and protected_format.proof_matches(message.version, message.check_value, proof)):
                outcome = "opened"
            else:
                outcome = "wrong"
                values: dict[str, Any] = {"failures": attempt.failures + 1}
                if attempt.failures == 0:
                    values["window_started_at"] = now  # the first wrong try opens the window
                session.execute(update(ProtectedMessageAttempt).where(
                    ProtectedMessageAttempt.message_id == canonical).values(**values))
    if locked:
        _count("locked")
        minutes = max(1, math.ceil(wait / 60))
        raise ServiceError(ErrorCode.MESSAGE_LOCKED, f"Too many wrong passwords were tried for this message: it "
                           f"is locked for {minutes} more minute{'s' if minutes != 1 else ''}.",
                           retry_after=max(1, wait))
    _count(outcome)
    if outcome == "expired":
        raise _expired()
    if outcome == "wrong":
        raise _wrong_password()
    assert message is not None and message.payload is not None
    return message.payload, message.version


def _attempt_row(session: Session, message_id: str, now: datetime, lock: timedelta) -> Any:
    """The id's attempt row, created or reset when its window has passed, and locked until the commit."""
    table = ProtectedMessageAttempt.__table__
    stale = table.c.window_started_at <= now - lock
    statement = insert(table).values(message_id=message_id, failures=0, window_started_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.message_id],
        set_={"failures": _case(stale, 0, table.c.failures),
              "window_started_at": _case(stale, now, table.c.window_started_at)},
    ).returning(table.c.failures, table.c.window_started_at)
    return session.execute(statement).one()


def _count(outcome: str) -> None:
    from postman_campaign import metrics

    metrics.PROTECTED_OPENS.labels(outcome=outcome).inc()


def _case(condition: Any, when_true: Any, otherwise: Any) -> Any:
    from sqlalchemy import case

    return case((condition, when_true), else_=otherwise)


def _wrong_password() -> ServiceError:
    return ServiceError(ErrorCode.WRONG_PASSWORD, "That password does not open this message. Check it and try again.")


def _expired() -> ServiceError:
    return ServiceError(ErrorCode.MESSAGE_EXPIRED, "This message has expired: it was deleted after the period its "
                        "sender keeps protected messages. Ask the sender for it again.")


def canonical_id(message_id: str) -> str | None:
    import uuid

    if not isinstance(message_id, str) or len(message_id) != 36:
        return None
    try:
        return str(uuid.UUID(message_id))
    except ValueError:
        return None


# -- expiry -------------------------------------------------------------------------------------------------------

def expire_messages(database: Database, now: datetime | None = None, lock_minutes: int = 15) -> int:
    """Erases the payload and check value of every message past its expiry, in batches; forgets attempt windows
    that have closed. Returns how many messages expired."""
    total = 0
    while True:
        with database.unit_of_work() as session:
            moment = now or session.scalar(select(text("now()")))
            due = select(ProtectedMessage.id).where(ProtectedMessage.expires_at <= moment,
                                                    ProtectedMessage.expired_at.is_(None)).limit(EXPIRE_BATCH)
            expired = session.execute(update(ProtectedMessage).where(ProtectedMessage.id.in_(due.scalar_subquery()))
                                      .values(payload=None, check_value=None, expired_at=moment)).rowcount
            if expired < EXPIRE_BATCH:
                session.execute(delete(ProtectedMessageAttempt).where(
                    ProtectedMessageAttempt.window_started_at <= moment - timedelta(minutes=lock_minutes)))
        total += expired
        if expired < EXPIRE_BATCH:
            break
    if total:
        from postman_campaign import metrics

        metrics.PROTECTED_EXPIRED.inc(total)
        log.info("protected messages expired", count=total)
    return total


class ExpiryLoop:
    """Runtime loop: expires messages every ``interval`` seconds."""

    def __init__(self, database: Database, lock_minutes: int, interval: float = 300.0) -> None:
        self._database = database
        self._lock_minutes = lock_minutes
        self._interval = interval

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                expire_messages(self._database, lock_minutes=self._lock_minutes)
            except Exception:  # noqa: BLE001 - logged; the next round tries again
                log.exception("expiring protected messages failed")
            stop.wait(self._interval)


__all__ = ["OpeningRules", "ProtectedRecord", "ProtectedStorage", "describe_message", "expire_messages",
           "extend_expiry", "open_message"]

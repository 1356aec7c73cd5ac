"""Retention: personal data is deleted on schedule, and one person's data on request (docs/data-protection.md).

**Redaction.** A campaign whose latest job finished (LOGGED, or STOPPED and never resumed) more than
``CAMPAIGN_RETENTION_DAYS`` ago is redacted in two steps:

1. *Marking*, one short transaction: the campaign row is locked (``FOR UPDATE SKIP LOCKED``: a replica or a request
   holding it is skipped, the next round comes back), its latest job checked again, ``redacted`` and
   ``redacted_at`` set and the ``campaign.redacted`` audit event written. A retry locks the same row and refuses a
   redacted campaign, so no job can start on a campaign whose recipients are going; exports, previews and retries
   answer 410 ``campaign_redacted`` from then on. Only one purger can flip the flag, so the audit event and the
   metric are counted once.
2. *Deleting*, ``PURGE_BATCH_SIZE`` recipients per transaction: the batch is taken with ``FOR UPDATE SKIP LOCKED``
   and, in the same transaction, those recipients' rows go from every per-message table (``message_outcomes``,
   ``email_deliveries``, ``sms_deliveries``, ``telegram_deliveries``). Each transaction is short and touches only
   the finished campaign's rows, so sending is never blocked; a crash loses at most the open batch (rolled back)
   and the next round carries on, since a redacted campaign with rows left is picked up again; two purgers take
   disjoint batches and count only what they deleted themselves.

What stays: the campaign, its template, its jobs (the timeline), ``num_recipients``/``num_invalid`` and the stats
counters (``campaign_counters``), so its statistics answer the same numbers; and the suppression list and the
unsubscribes, which protect the people in them. The purge deletes across the services' tables on purpose: one
database, and one transaction per batch is what makes it restart-safe.

**Transactional messages** (``transactional_emails``, ``transactional_sms``, and the delivery log of email sent
outside campaigns) go ``TRANSACTIONAL_RETENTION_DAYS`` after they were created; **audit events**
``AUDIT_RETENTION_DAYS`` after they happened; sign-in sessions (IP, user agent) a day after they expired. All oldest
first, in batches.

**Erasing one person** (``postmanctl erase-recipient``): every campaign's recipient rows for the address or number
with their per-message rows, their transactional messages (and the address in others' cc/bcc), their Telegram
subscriptions. Counts are aggregates, not personal data: they are kept (a campaign still sending counts an erased,
not yet sent recipient as unsent).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from postman_campaign.statuses import FINISHED
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, ServiceError
from postman_shared.logging import get_logger
from postman_shared.settings import Settings
from postman_shared.validators import normalise_email, normalise_phone

SYSTEM_IP = "system"  # the audit ``ip`` of the platform's own actions (as auth's owner notices)
CLI_IP = "cli"  # ... and of postmanctl's
# A purge transaction waits at most this long for a row lock (a late receipt updating an outcome): it then fails,
# and the next round tries again, rather than queue behind or ahead of the pipeline.
LOCK_TIMEOUT = "2s"
LOOP_PAUSE_SECONDS = 0.05  # the purge loop's least rest between two transactions: the pipeline gets the database
# The share of the time the loop's purge may be working: after a transaction of t seconds it rests t * (1/duty - 1),
# so a big backlog is spread out rather than competing with a campaign that is sending (bench/purge.py).
LOOP_DUTY = 0.1
SESSIONS_KEPT = timedelta(days=1)  # an ended sign-in session's row (IP, user agent) is deleted this long after
PER_MESSAGE_TABLES = ("message_outcomes", "email_deliveries", "sms_deliveries", "telegram_deliveries")

log = get_logger(component="retention")


@dataclass
class PurgeReport:
    """What a purge removed (or, in a dry run, would remove)."""

    campaigns_redacted: int = 0
    recipients: int = 0
    message_outcomes: int = 0
    deliveries: int = 0
    transactional_emails: int = 0
    transactional_sms: int = 0
    email_deliveries_outside_campaigns: int = 0
    audit_events: int = 0
    sessions: int = 0
    telegram_subscribers: int = 0

    def add(self, other: PurgeReport) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def total(self) -> int:
        return sum(self.as_dict().values()) - self.campaigns_redacted


def redacted_error(campaign_id: int, redacted_at: datetime | None = None) -> ServiceError:
    """410 ``campaign_redacted``: what a recipient-level call on a redacted campaign answers."""
    when = f" on {redacted_at:%Y-%m-%d}" if redacted_at is not None else ""
    return ServiceError(ErrorCode.CAMPAIGN_REDACTED, f"Campaign {campaign_id} has been redacted{when}: its recipients "
                        "and their messages' outcomes were deleted at the end of the retention period; its counts "
                        "remain in the stats")


def _local_timeouts(session: Session) -> None:
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))


def _audit(session: Session, action: str, *, user_id: int | None, target_type: str, target_id: int | str | None,
           ip: str, details: dict[str, Any]) -> None:
    """An audit event in the caller's transaction (auth's table, same database: kept exactly when the change is)."""
    session.execute(text(
        "INSERT INTO audit_events (action, user_id, target_type, target_id, ip, details) "
        "VALUES (:action, :user_id, :target_type, :target_id, :ip, CAST(:details AS JSONB))"),
        {"action": action, "user_id": user_id, "target_type": target_type,
         "target_id": None if target_id is None else str(target_id), "ip": ip,
         "details": json.dumps(details)})


# -- campaigns ---------------------------------------------------------------------------------------------------

_DUE = text("""
    SELECT c.id FROM campaigns c
    JOIN LATERAL (SELECT j.status, j.status_updated_at FROM jobs j WHERE j.campaign_id = c.id
                  ORDER BY j.id DESC LIMIT 1) latest ON true
    WHERE NOT c.redacted AND latest.status IN :finished AND latest.status_updated_at < :cutoff
    ORDER BY c.id LIMIT :limit
""").bindparams(bindparam("finished", expanding=True))


def due_campaigns(database: Database, cutoff: datetime, limit: int = 1000) -> list[int]:
    """Campaigns not redacted yet whose latest job finished before ``cutoff``."""
    with database.session() as session:
        return list(session.scalars(_DUE, {"finished": list(FINISHED), "cutoff": cutoff, "limit": limit}))


def mark_redacted(database: Database, campaign_id: int, cutoff: datetime, retention_days: int,
                  ip: str = SYSTEM_IP) -> bool:
    """Marks the campaign redacted if it is still due and no one else holds it; True when this call did."""
    with database.unit_of_work() as session:
        _local_timeouts(session)
        row = session.execute(text(
            "SELECT user_id, num_recipients FROM campaigns WHERE id = :c AND NOT redacted FOR UPDATE SKIP LOCKED"),
            {"c": campaign_id}).one_or_none()
        if row is None:
            return False
        latest = session.execute(text(
            "SELECT status, status_updated_at FROM jobs WHERE campaign_id = :c ORDER BY id DESC LIMIT 1"),
            {"c": campaign_id}).one_or_none()
        if latest is None or latest.status not in FINISHED or latest.status_updated_at >= cutoff:
            return False  # a retry started since it was found
        session.execute(text("UPDATE campaigns SET redacted = true, redacted_at = now() WHERE id = :c"),
                        {"c": campaign_id})
        _audit(session, "campaign.redacted", user_id=row.user_id, target_type="campaign", target_id=campaign_id,
               ip=ip, details={"retention_days": retention_days, "finished_at": latest.status_updated_at.isoformat(),
                               "recipients": int(row.num_recipients)})
    log.info("campaign redacted", campaign_id=campaign_id)
    return True


def campaigns_with_rows_left(database: Database, limit: int = 1000) -> list[int]:
    """Redacted campaigns that still have recipient or outcome rows (a purge under way, or interrupted)."""
    with database.session() as session:
        return list(session.scalars(text(
            "SELECT c.id FROM campaigns c WHERE c.redacted AND (EXISTS (SELECT 1 FROM recipients r WHERE "
            "r.campaign_id = c.id) OR EXISTS (SELECT 1 FROM message_outcomes o WHERE o.campaign_id = c.id)) "
            "ORDER BY c.id LIMIT :limit"), {"limit": limit}))


def _delete_per_message(session: Session, ids: list[int], report: PurgeReport) -> None:
    if not ids:
        return
    report.message_outcomes += session.execute(text(
        "DELETE FROM message_outcomes WHERE recipient_id = ANY(:ids)"), {"ids": ids}).rowcount
    for table in PER_MESSAGE_TABLES[1:]:
        report.deliveries += session.execute(text(
            f"DELETE FROM {table} WHERE recipient_id = ANY(:ids)"), {"ids": ids}).rowcount  # noqa: S608 - constant


def purge_campaign_batch(database: Database, campaign_id: int, batch_size: int) -> PurgeReport:
    """One transaction: up to ``batch_size`` of a redacted campaign's recipients and their per-message rows (or, once
    the recipients are gone, up to that many outcome rows left without one). An empty report: nothing left."""
    report = PurgeReport()
    with database.unit_of_work() as session:
        _local_timeouts(session)
        redacted = session.scalar(text("SELECT redacted FROM campaigns WHERE id = :c"), {"c": campaign_id})
        if not redacted:
            return report  # never the rows of a campaign that is not (or no longer) redacted
        ids = list(session.scalars(text("""
            WITH batch AS (SELECT id FROM recipients WHERE campaign_id = :c ORDER BY id LIMIT :n
                           FOR UPDATE SKIP LOCKED)
            DELETE FROM recipients r USING batch WHERE r.id = batch.id RETURNING r.id"""),
            {"c": campaign_id, "n": batch_size}))
        report.recipients = len(ids)
        _delete_per_message(session, ids, report)
        if not ids:
            report.message_outcomes += session.execute(text("""
                DELETE FROM message_outcomes WHERE recipient_id IN (
                    SELECT recipient_id FROM message_outcomes WHERE campaign_id = :c LIMIT :n
                    FOR UPDATE SKIP LOCKED)"""), {"c": campaign_id, "n": batch_size}).rowcount
    return report


# -- transactional messages and audit events ---------------------------------------------------------------------

_OLDEST_FIRST = {
    "transactional_emails": ("id", "created_at", ""),
    "transactional_sms": ("id", "created_at", ""),
    "email_deliveries_outside_campaigns": ("message_id", "created_at", " AND campaign_id IS NULL"),
    "audit_events": ("id", "at", ""),
    "sessions": ("id", "expires_at", ""),  # a sign-in's IP and user agent, a day after it expired
}
# Each kind of old row, and the cutoff it is deleted after.
_OLD_ROWS = (("transactional_emails", "transactional"), ("transactional_sms", "transactional"),
             ("email_deliveries_outside_campaigns", "transactional"), ("audit_events", "audit"),
             ("sessions", "sessions"))


def _table(kind: str) -> str:
    return "email_deliveries" if kind == "email_deliveries_outside_campaigns" else kind


def delete_older_batch(database: Database, kind: str, cutoff: datetime, batch_size: int) -> int:
    """One transaction: up to ``batch_size`` rows of ``kind`` older than ``cutoff``, oldest first."""
    key, moment, extra = _OLDEST_FIRST[kind]
    table = _table(kind)
    with database.unit_of_work() as session:
        _local_timeouts(session)
        return int(session.execute(text(
            f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} "  # noqa: S608 - constant names
            f"WHERE {moment} < :cutoff{extra} ORDER BY {moment} LIMIT :n FOR UPDATE SKIP LOCKED)"),
            {"cutoff": cutoff, "n": batch_size}).rowcount)


def count_older(database: Database, kind: str, cutoff: datetime) -> int:
    key, moment, extra = _OLDEST_FIRST[kind]
    with database.session() as session:
        return int(session.scalar(text(
            f"SELECT count(*) FROM {_table(kind)} WHERE {moment} < :cutoff{extra}"),  # noqa: S608 - constant
            {"cutoff": cutoff}))


# -- the purge ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Retention:
    campaign_days: int
    transactional_days: int
    audit_days: int
    batch_size: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Retention:
        return cls(settings.campaign_retention_days, settings.transactional_retention_days,
                   settings.audit_retention_days, settings.purge_batch_size)

    def cutoffs(self, now: datetime) -> dict[str, datetime]:
        return {"campaign": now - timedelta(days=self.campaign_days),
                "transactional": now - timedelta(days=self.transactional_days),
                "audit": now - timedelta(days=self.audit_days),
                "sessions": now - SESSIONS_KEPT}


def _now(database: Database) -> datetime:
    with database.session() as session:
        return session.scalar(text("SELECT now()"))  # the database's clock, as the rows' timestamps


def purge(database: Database, retention: Retention, now: datetime | None = None, ip: str = SYSTEM_IP,
          should_stop: Callable[[], bool] = lambda: False, pause: float = 0.0, duty: float = 1.0,
          on_batch: Callable[[PurgeReport], None] | None = None) -> PurgeReport:
    """One full purge: redacts every due campaign, deletes redacted campaigns' rows, then old transactional messages
    and audit events. Between two transactions it rests at least ``pause`` seconds and, with ``duty`` below 1, long
    enough that it works only that share of the time: the database is left to the pipeline. Returns what went;
    ``on_batch`` sees each committed batch (the metrics)."""
    cutoffs = retention.cutoffs(now or _now(database))
    report = PurgeReport()
    last = [time.monotonic()]

    def rest() -> None:
        worked = time.monotonic() - last[0]
        until = time.monotonic() + (max(pause, worked * (1 / duty - 1)) if duty < 1 else pause)
        while not should_stop() and (left := until - time.monotonic()) > 0:
            time.sleep(min(left, 0.25))  # a stopping service does not wait out the rest
        last[0] = time.monotonic()

    def counted(part: PurgeReport) -> None:
        report.add(part)
        if on_batch is not None:
            on_batch(part)

    for campaign_id in due_campaigns(database, cutoffs["campaign"]):
        if should_stop():
            return report
        if mark_redacted(database, campaign_id, cutoffs["campaign"], retention.campaign_days, ip=ip):
            counted(PurgeReport(campaigns_redacted=1))
    for campaign_id in campaigns_with_rows_left(database):
        while not should_stop():
            part = purge_campaign_batch(database, campaign_id, retention.batch_size)
            counted(part)
            if part.recipients == 0 and part.message_outcomes == 0:
                break
            rest()
    for kind, cutoff in _OLD_ROWS:
        while not should_stop():
            deleted = delete_older_batch(database, kind, cutoffs[cutoff], retention.batch_size)
            if deleted:
                counted(PurgeReport(**{kind: deleted}))
            if deleted < retention.batch_size:
                break
            rest()
    if report.total() or report.campaigns_redacted:
        log.info("purge done", **report.as_dict())
    return report


def dry_run(database: Database, retention: Retention, now: datetime | None = None) -> PurgeReport:
    """What ``purge`` would remove now, counted, nothing changed."""
    cutoffs = retention.cutoffs(now or _now(database))
    due = due_campaigns(database, cutoffs["campaign"], limit=1_000_000)
    pending = due + campaigns_with_rows_left(database, limit=1_000_000)
    report = PurgeReport(campaigns_redacted=len(due))
    if pending:
        with database.session() as session:
            report.recipients = int(session.scalar(text(
                "SELECT count(*) FROM recipients WHERE campaign_id = ANY(:c)"), {"c": pending}))
            report.message_outcomes = int(session.scalar(text(
                "SELECT count(*) FROM message_outcomes WHERE campaign_id = ANY(:c)"), {"c": pending}))
            report.deliveries = sum(int(session.scalar(text(
                f"SELECT count(*) FROM {table} d JOIN recipients r ON r.id = d.recipient_id "  # noqa: S608
                "WHERE r.campaign_id = ANY(:c)"), {"c": pending})) for table in PER_MESSAGE_TABLES[1:])
    for kind, cutoff in _OLD_ROWS:
        setattr(report, kind, count_older(database, kind, cutoffs[cutoff]))
    return report


class PurgeLoop:
    """Runtime loop of the campaign service: a purge every ``interval`` seconds. Safe with several replicas (row
    locks skipped, not waited for) and across restarts (each batch is its own transaction)."""

    def __init__(self, database: Database, retention: Retention, interval: float = 300.0,
                 pause: float = LOOP_PAUSE_SECONDS, duty: float = LOOP_DUTY) -> None:
        self._database = database
        self._retention = retention
        self._interval = interval
        self._pause = pause
        self._duty = duty

    def run(self, stop: threading.Event) -> None:
        from postman_campaign import metrics

        while not stop.is_set():
            try:
                purge(self._database, self._retention, should_stop=stop.is_set, pause=self._pause,
                      duty=self._duty, on_batch=metrics.count_purged)
            except Exception:  # noqa: BLE001 - logged; the next round carries on where this one stopped
                log.exception("purge failed")
            stop.wait(self._interval)


# -- one person ------------------------------------------------------------------------------------------------

def normalise_recipient(raw: str, phone_region: str) -> str:
    """An address lower-cased, or a number in E.164, as the recipient tables hold them."""
    raw = raw.strip()
    if "@" in raw:
        return normalise_email(raw)
    number = normalise_phone(raw, phone_region)
    if number is None:
        raise ServiceError(ErrorCode.INVALID_RECIPIENT, f"{raw!r} is neither an email address nor a phone number")
    return number


def erase_recipient(database: Database, recipient: str, dry_run: bool = False, ip: str = CLI_IP) -> PurgeReport:
    """Removes one person's data (``recipient`` already normalised) from every table that holds it, in one
    transaction, and records ``recipient.erased`` (counts only, not the address). Suppression entries and
    unsubscribes are kept: they are what stops messages reaching the person."""
    report = PurgeReport()
    with database.unit_of_work() as session:
        ids = list(session.scalars(text("SELECT id FROM recipients WHERE recipient = :r"), {"r": recipient}))
        report.recipients = len(ids)
        phone = "@" not in recipient
        if dry_run:
            if ids:
                report.message_outcomes = int(session.scalar(text(
                    "SELECT count(*) FROM message_outcomes WHERE recipient_id = ANY(:ids)"), {"ids": ids}))
                report.deliveries = sum(int(session.scalar(text(
                    f"SELECT count(*) FROM {table} WHERE recipient_id = ANY(:ids)"),  # noqa: S608 - constant
                    {"ids": ids})) for table in PER_MESSAGE_TABLES[1:])
            report.transactional_emails = int(session.scalar(text(
                "SELECT count(*) FROM transactional_emails WHERE recipient = :r OR :r = ANY(cc) OR :r = ANY(bcc)"),
                {"r": recipient}))
            report.transactional_sms = int(session.scalar(text(
                "SELECT count(*) FROM transactional_sms WHERE recipient = :r"), {"r": recipient}))
            if phone:
                report.telegram_subscribers = int(session.scalar(text(
                    "SELECT count(*) FROM telegram_subscribers WHERE phone_number = :r"), {"r": recipient}))
            session.rollback()
            return report
        if ids:
            session.execute(text("DELETE FROM recipients WHERE id = ANY(:ids)"), {"ids": ids})
            _delete_per_message(session, ids, report)
        report.transactional_emails = session.execute(text(
            "DELETE FROM transactional_emails WHERE recipient = :r"), {"r": recipient}).rowcount
        report.transactional_emails += session.execute(text(
            "UPDATE transactional_emails SET cc = array_remove(cc, :r), bcc = array_remove(bcc, :r) "
            "WHERE :r = ANY(cc) OR :r = ANY(bcc)"), {"r": recipient}).rowcount
        report.transactional_sms = session.execute(text(
            "DELETE FROM transactional_sms WHERE recipient = :r"), {"r": recipient}).rowcount
        if phone:
            report.telegram_subscribers = session.execute(text(
                "DELETE FROM telegram_subscribers WHERE phone_number = :r"), {"r": recipient}).rowcount
        _audit(session, "recipient.erased", user_id=None, target_type="recipient", target_id=None, ip=ip,
               details={"kind": "phone" if phone else "email",
                        **{k: v for k, v in report.as_dict().items() if v}})
    log.info("recipient erased", **report.as_dict())
    return report

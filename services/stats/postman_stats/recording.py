"""Recording a batch of delivery events, idempotently, in one transaction.

Outcomes go into ``message_outcomes`` with ``ON CONFLICT DO NOTHING``; the counters of each campaign move by what
that statement actually inserted, so an event delivered twice is counted once. ``JobRendered`` tells how many
messages the job has in all (``expected``).

A sender's event says what it did with the message: SENT, ERROR, or not sent because the recipient is suppressed
(BLACKLISTED, UNSUBSCRIBED). A receipt says what the provider reported afterwards (``postman_shared.outcomes``):
DELIVERED, OPENED, a soft or hard bounce, a complaint, an ERROR. Receipts move a message forward by rank, never back:
a repeated or late event changes nothing, a bounce or complaint beats delivered. One that finds no outcome yet (it
overtook the sender's own event) is inserted by the same statement as the senders' events, so the sender's event
later finds the message recorded. One that finds an outcome locks it and moves it, and the message moves between the
counters in the same transaction (sent -> invalid for a bounce, sent -> error for an SMS "undelivered"...). A sender's
ERROR is special: any receipt but another ERROR replaces it (Twilio took the message without answering in time),
because the receipt proves the provider had the message. A message never sent (suppressed) takes no receipt.
``sent + error + invalid_recipients + unsubscribed`` therefore only ever grows by the messages newly recorded.

A retry makes a newer job the campaign's current one (``retry_outcomes.start_retry``); a delivery event or a JobRendered
of an older job of the campaign (a late redelivery) is then ignored, so it can neither bring back an error the retry
cleared nor move the counter back to the old job. Receipts carry no job and always apply.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from postman_shared.db import Database
from postman_shared.messages import DeliveryEvent, JobRendered
from postman_shared.outcomes import BUCKET, RANK, RECEIPT_STATUSES, SENDER_STATUSES, MessageStatus
from postman_stats.metrics import RECEIPTS
from postman_stats.models import CampaignCounter, MessageOutcome
from postman_stats.statuses import receipt_moves

RECEIPT = "receipt"
# What each kind of event may say.
ALLOWED_STATUSES = {"delivery": SENDER_STATUSES, RECEIPT: RECEIPT_STATUSES}
# Receipts that count towards halting a campaign.
BAD_NEWS = frozenset({MessageStatus.BOUNCED, MessageStatus.COMPLAINT})

# The counter columns a status is counted in: its statistics counter (Bucket) and, for most, a detail column.
_DETAIL = {
    MessageStatus.DELIVERED: "delivered",
    MessageStatus.OPENED: "opened",
    MessageStatus.SOFT_BOUNCED: "soft_bounced",
    MessageStatus.BOUNCED: "hard_bounced",
    MessageStatus.COMPLAINT: "complained",
    MessageStatus.BLACKLISTED: "blacklisted",
}
_BUCKET_COLUMN = {"sent": "sent", "error": "error", "invalid": "invalid_recipients", "unsubscribed": "unsubscribed"}


@dataclass(frozen=True)
class Recorded:
    counted: int  # outcomes that were new
    duplicates: int  # events that changed nothing (a redelivered event, a receipt applied before)
    campaign_ids: list[int]  # every campaign the batch spoke about
    receipts: int = 0  # receipts applied (to a new or an existing outcome)
    bad_news: frozenset[int] = frozenset()  # campaigns with a new hard bounce or complaint (halting is checked)


@dataclass
class CounterChange:
    """How a campaign's counters move in this batch."""

    sent: int = 0
    error: int = 0
    invalid_recipients: int = 0
    unsubscribed: int = 0
    delivered: int = 0
    opened: int = 0
    soft_bounced: int = 0
    hard_bounced: int = 0
    complained: int = 0
    blacklisted: int = 0
    job_id: int | None = field(default=None, compare=False)
    inserted: int = field(default=0, compare=False)  # outcomes newly recorded

    def add(self, status: str, by: int = 1) -> None:
        message_status = MessageStatus(status)
        column = _BUCKET_COLUMN[BUCKET[message_status]]
        setattr(self, column, getattr(self, column) + by)
        detail = _DETAIL.get(message_status)
        if detail is not None:
            setattr(self, detail, getattr(self, detail) + by)


COUNTER_COLUMNS = tuple(f.name for f in fields(CounterChange) if f.name not in ("job_id", "inserted"))

_INSERT_OUTCOMES = (
    insert(MessageOutcome).on_conflict_do_nothing(index_elements=["recipient_id"])
    .returning(MessageOutcome.recipient_id, MessageOutcome.campaign_id, MessageOutcome.job_id,
               MessageOutcome.status, MessageOutcome.receipt)
)
_table = cast(Table, MessageOutcome.__table__)
# One row per parameter set (executemany), by primary key; Core, not ORM, so no session state is involved.
_APPLY_RECEIPT = (
    update(_table).where(_table.c.recipient_id == bindparam("r_id"))
    .values(status=bindparam("r_status"), error_code=bindparam("r_error_code"),
            error_reason=bindparam("r_error_reason"), error_sub_type=bindparam("r_error_sub_type"),
            receipt=bindparam("r_receipt"), receipt_at=func.now(), updated_at=func.now())
)


def record(database: Database, events: Sequence[DeliveryEvent | JobRendered]) -> Recorded:
    deliveries = {e.recipient_id: e for e in events if isinstance(e, DeliveryEvent) and e.kind != RECEIPT}
    receipts: dict[int, DeliveryEvent] = {}
    for event in events:  # several receipts of one message in a batch: the highest rank is where it ends up
        if isinstance(event, DeliveryEvent) and event.kind == RECEIPT:
            kept = receipts.get(event.recipient_id)
            if kept is None or RANK[MessageStatus(event.status)] > RANK[MessageStatus(kept.status)]:
                receipts[event.recipient_id] = event
    rendered = {e.campaign_id: e for e in events if isinstance(e, JobRendered)}
    campaign_ids = sorted({e.campaign_id for e in events})
    announced = len(deliveries) + len(receipts)
    changes: dict[int, CounterChange] = defaultdict(CounterChange)
    counted = receipts_applied = 0
    inserted_receipts: set[int] = set()
    bad_news: set[int] = set()
    with database.unit_of_work() as session:
        current = _current_jobs(session, campaign_ids)
        if current:
            deliveries = {k: e for k, e in deliveries.items() if not _stale(e, current)}
            rendered = {k: e for k, e in rendered.items() if not _stale(e, current)}
        if deliveries or receipts:
            inserted_receipts = _insert_outcomes(session, list(deliveries.values()), list(receipts.values()),
                                                 changes, bad_news)
            counted = sum(change.inserted for change in changes.values())
            pending = [e for recipient_id, e in sorted(receipts.items()) if recipient_id not in inserted_receipts]
            receipts_applied = len(inserted_receipts) + _apply_receipts(session, pending, changes, bad_news)
        counters = _counter_changes(changes, rendered)
        if counters:
            upsert = insert(CampaignCounter).values(counters)
            moved: dict[str, Any] = {name: getattr(CampaignCounter, name) + getattr(upsert.excluded, name)
                                     for name in COUNTER_COLUMNS}
            session.execute(upsert.on_conflict_do_update(
                index_elements=["campaign_id"],
                set_={
                    **moved,
                    "expected": func.coalesce(upsert.excluded.expected, CampaignCounter.expected),
                    # GREATEST ignores NULL: a batch without a job keeps the counter's, an older one never wins.
                    "job_id": func.greatest(upsert.excluded.job_id, CampaignCounter.job_id),
                    "updated_at": func.now(),
                },
            ))
    changed = counted - len(inserted_receipts) + receipts_applied  # events that recorded or moved something
    return Recorded(counted=counted, duplicates=announced - changed, campaign_ids=campaign_ids,
                    receipts=receipts_applied, bad_news=frozenset(bad_news))


def _current_jobs(session: Session, campaign_ids: list[int]) -> dict[int, int]:
    """The current job of each campaign that has one (one query)."""
    rows = session.execute(select(CampaignCounter.campaign_id, CampaignCounter.job_id).where(
        CampaignCounter.campaign_id.in_(campaign_ids), CampaignCounter.job_id.is_not(None)))
    return {campaign_id: job_id for campaign_id, job_id in rows}


def _stale(event: DeliveryEvent | JobRendered, current: dict[int, int]) -> bool:
    """An event of an older job than the campaign's current one (a retry has started since)."""
    return 0 < event.job_id < current.get(event.campaign_id, 0)


def _outcome_row(event: DeliveryEvent, receipt_at: datetime | None) -> dict[str, Any]:
    """The outcome an event records when it is the first news of the message."""
    receipt = event.status if event.kind == RECEIPT else None
    return {"recipient_id": event.recipient_id, "campaign_id": event.campaign_id, "job_id": event.job_id,
            "status": event.status, "error_code": event.error_code, "error_reason": event.reason,
            "error_sub_type": event.error_sub_type, "receipt": receipt,
            "receipt_at": receipt_at if receipt else None}


def _insert_outcomes(session: Session, deliveries: list[DeliveryEvent], receipts: list[DeliveryEvent],
                     changes: dict[int, CounterChange], bad_news: set[int]) -> set[int]:
    """Inserts the outcomes of messages not recorded yet, counting them in ``changes``; returns the recipients
    whose receipt was the one inserted."""
    now = datetime.now(timezone.utc)
    # Sorted keys, a sender's event before a receipt of the same message (the receipt then finds it recorded):
    # two consumers inserting overlapping batches lock rows in the same order (no deadlock).
    rows = sorted([_outcome_row(e, None) for e in deliveries] + [_outcome_row(e, now) for e in receipts],
                  key=lambda row: (row["recipient_id"], row["receipt"] is not None))
    inserted_receipts = set()
    # Rows as parameters, not .values(rows): the statement is compiled once and cached, and SQLAlchemy still sends
    # multi-row INSERTs ("insertmanyvalues"), returning only the rows actually inserted.
    for row in session.execute(_INSERT_OUTCOMES, rows):
        change = changes[row.campaign_id]
        change.inserted += 1
        change.add(row.status)
        if row.receipt is None:
            change.job_id = row.job_id
        else:
            inserted_receipts.add(row.recipient_id)
            RECEIPTS.labels(status=row.status).inc()
            if row.status in BAD_NEWS:
                bad_news.add(row.campaign_id)
    return inserted_receipts


def _apply_receipts(session: Session, receipts: list[DeliveryEvent], changes: dict[int, CounterChange],
                    bad_news: set[int]) -> int:
    """Applies receipts to outcomes already recorded (locked first, in recipient order); returns how many moved
    an outcome."""
    if not receipts:
        return 0
    by_recipient = {e.recipient_id: e for e in receipts}
    locked = session.execute(
        select(_table.c.recipient_id, _table.c.campaign_id, _table.c.status, _table.c.receipt)
        .where(_table.c.recipient_id.in_(sorted(by_recipient))).order_by(_table.c.recipient_id).with_for_update()
    ).all()
    updates = []
    for recipient_id, campaign_id, status, receipt in locked:
        event = by_recipient[recipient_id]
        if not receipt_moves(status, receipt, event.status):
            continue
        reached = event.status in (MessageStatus.DELIVERED, MessageStatus.OPENED)
        updates.append({"r_id": recipient_id, "r_status": event.status, "r_receipt": event.status,
                        "r_error_code": None if reached else event.error_code,
                        "r_error_reason": None if reached else event.reason,
                        "r_error_sub_type": None if reached else event.error_sub_type})
        change = changes[campaign_id]
        change.add(status, -1)
        change.add(event.status)
        RECEIPTS.labels(status=event.status).inc()
        if event.status in BAD_NEWS:
            bad_news.add(campaign_id)
    if updates:
        session.execute(_APPLY_RECEIPT, updates)
    return len(updates)


def _counter_changes(changes: dict[int, CounterChange], rendered: dict[int, JobRendered]) -> list[dict[str, Any]]:
    """One row per campaign (an upsert may touch a row once), in campaign order."""
    rows: dict[int, dict[str, Any]] = {
        campaign_id: {**{name: getattr(change, name) for name in COUNTER_COLUMNS}, "expected": None,
                      "job_id": change.job_id}
        for campaign_id, change in changes.items()
    }
    for campaign_id, event in rendered.items():
        rows.setdefault(campaign_id, {**dict.fromkeys(COUNTER_COLUMNS, 0), "expected": None, "job_id": None}).update(
            expected=event.total, job_id=event.job_id)
    return [{"campaign_id": campaign_id, **row} for campaign_id, row in sorted(rows.items())]

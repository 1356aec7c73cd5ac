"""Recording a batch of delivery events, idempotently, in one transaction.

Outcomes go into ``message_outcomes`` with ``ON CONFLICT DO NOTHING``; the counters of each campaign move by what
that statement actually inserted, so an event delivered twice is counted once. ``JobRendered`` tells how many
messages the job has in all (``expected``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert

from postman_shared.db import Database
from postman_shared.messages import DeliveryEvent, JobRendered
from postman_stats.models import CampaignCounter, MessageOutcome

STATUSES = ("SENT", "ERROR")


@dataclass(frozen=True)
class Recorded:
    counted: int  # outcomes that were new
    duplicates: int  # outcomes recorded before (a redelivered event)
    campaign_ids: list[int]  # every campaign the batch spoke about


_INSERT_OUTCOMES = (
    insert(MessageOutcome).on_conflict_do_nothing(index_elements=["recipient_id"])
    .returning(MessageOutcome.campaign_id, MessageOutcome.job_id, MessageOutcome.status)
)


def record(database: Database, events: Sequence[DeliveryEvent | JobRendered]) -> Recorded:
    deliveries = {e.recipient_id: e for e in events if isinstance(e, DeliveryEvent)}
    rendered = {e.campaign_id: e for e in events if isinstance(e, JobRendered)}
    campaign_ids = sorted({e.campaign_id for e in events})
    with database.unit_of_work() as session:
        inserted: list[tuple[int, int, str]] = []
        if deliveries:
            # Sorted keys: two consumers inserting overlapping batches lock rows in the same order (no deadlock).
            rows = [
                {"recipient_id": e.recipient_id, "campaign_id": e.campaign_id, "job_id": e.job_id,
                 "status": e.status, "error_code": e.error_code, "error_reason": e.reason}
                for _, e in sorted(deliveries.items())
            ]
            # Rows as parameters, not .values(rows): the statement is compiled once and cached, and SQLAlchemy
            # still sends multi-row INSERTs ("insertmanyvalues"), returning only the rows actually inserted.
            inserted = [(row.campaign_id, row.job_id, row.status) for row in session.execute(_INSERT_OUTCOMES, rows)]
        counters = _counter_changes(inserted, rendered)
        if counters:
            upsert = insert(CampaignCounter).values(counters)
            session.execute(upsert.on_conflict_do_update(
                index_elements=["campaign_id"],
                set_={
                    "sent": CampaignCounter.sent + upsert.excluded.sent,
                    "error": CampaignCounter.error + upsert.excluded.error,
                    "expected": func.coalesce(upsert.excluded.expected, CampaignCounter.expected),
                    "job_id": func.coalesce(upsert.excluded.job_id, CampaignCounter.job_id),
                    "updated_at": func.now(),
                },
            ))
    return Recorded(counted=len(inserted), duplicates=len(deliveries) - len(inserted), campaign_ids=campaign_ids)


def _counter_changes(inserted: list[tuple[int, int, str]], rendered: dict[int, JobRendered]) -> list[dict]:
    """One row per campaign (an upsert may touch a row once), in campaign order."""
    changes: dict[int, dict] = defaultdict(lambda: {"sent": 0, "error": 0, "expected": None, "job_id": None})
    for campaign_id, job_id, status in inserted:
        change = changes[campaign_id]
        change["sent" if status == "SENT" else "error"] += 1
        change["job_id"] = job_id
    for campaign_id, event in rendered.items():
        changes[campaign_id].update(expected=event.total, job_id=event.job_id)
    return [{"campaign_id": campaign_id, **change} for campaign_id, change in sorted(changes.items())]

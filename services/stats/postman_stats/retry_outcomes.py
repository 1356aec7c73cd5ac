"""A retry's outcomes as stats keeps them (ERROR outcomes back to unsent, the recipients already recorded), and
the recount of ``refresh-stats``.

``start_retry`` runs when the renderer starts a retry job: in ONE transaction it locks the campaign's counter row,
deletes the campaign's ERROR outcomes and lowers ``error`` by as many, and makes the retry the campaign's current job
(``job_id``; ``expected`` and ``logged_at`` cleared until the retry is rendered). Those recipients are then unsent,
so ``unsent + sent + error + invalid = recipients`` holds at every moment, and their new outcomes are recorded like
any others. It is idempotent: a renderer that restarts finds the counter already on the retry and changes nothing.
Events of an older job of the campaign that arrive afterwards are ignored (``recording.py``).

The retry also becomes the baseline of halting (``halting.py``): its bounces and complaints are counted from the
counts it started with, so a campaign resumed after a halt is judged on what it sends since.

``recount`` sets every counter to what ``message_outcomes`` holds, in the same kind of locked transaction.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from postman_shared.db import Database
from postman_shared.logging import get_logger
from postman_shared.outcomes import MessageStatus
from postman_stats.halting import BASELINE
from postman_stats.models import CampaignCounter, MessageOutcome
from postman_stats.recording import COUNTER_COLUMNS, CounterChange

RECORDED_BATCH = 5000

log = get_logger(component="retries")


def start_retry(database: Database, campaign_id: int, job_id: int) -> int:
    """Moves the campaign's ERROR outcomes back to unsent for the retry ``job_id``; returns how many (0 when this
    retry, or a later job, had already started)."""
    with database.unit_of_work() as session:
        session.execute(insert(CampaignCounter).values(campaign_id=campaign_id, sent=0, error=0)
                        .on_conflict_do_nothing(index_elements=["campaign_id"]))
        current = session.scalar(select(CampaignCounter.job_id).where(CampaignCounter.campaign_id == campaign_id)
                                 .with_for_update())
        if current is not None and current >= job_id:
            return 0
        reset = session.execute(delete(MessageOutcome).where(
            MessageOutcome.campaign_id == campaign_id, MessageOutcome.status == MessageStatus.ERROR)).rowcount
        session.execute(update(CampaignCounter).where(CampaignCounter.campaign_id == campaign_id).values(
            error=CampaignCounter.error - reset, job_id=job_id, expected=None, logged_at=None, updated_at=func.now()))
        session.execute(text(f"UPDATE campaign_counters SET halted_at = NULL, "  # noqa: S608 - constant columns
                             f"{', '.join(f'{column} = {value}' for column, value in BASELINE.items())} "
                             "WHERE campaign_id = :c"), {"c": campaign_id})
    log.info("retry started: errors moved back to unsent", campaign_id=campaign_id, job_id=job_id, reset=reset)
    return int(reset)


def recorded_recipients(database: Database, campaign_id: int, after_id: int = 0,
                        batch_size: int = RECORDED_BATCH) -> Iterator[list[int]]:
    """Batches of the recipient ids of the campaign that have an outcome, ascending, after ``after_id``; one short
    query per batch (keyset paging), so a big campaign never holds a connection for the whole stream."""
    cursor = after_id
    while True:
        with database.session() as session:
            ids = list(session.scalars(
                select(MessageOutcome.recipient_id)
                .where(MessageOutcome.campaign_id == campaign_id, MessageOutcome.recipient_id > cursor)
                .order_by(MessageOutcome.recipient_id).limit(batch_size)))
        if ids:
            yield ids
        if len(ids) < batch_size:
            return
        cursor = ids[-1]


def recount(database: Database, campaign_id: int) -> tuple[int, int]:
    """Sets the campaign's counters to the outcomes recorded; returns (sent, error)."""
    with database.unit_of_work() as session:
        session.execute(insert(CampaignCounter).values(campaign_id=campaign_id, sent=0, error=0)
                        .on_conflict_do_nothing(index_elements=["campaign_id"]))
        session.execute(select(CampaignCounter.campaign_id).where(CampaignCounter.campaign_id == campaign_id)
                        .with_for_update())
        counts = CounterChange()
        for status, count in session.execute(
                select(MessageOutcome.status, func.count()).where(MessageOutcome.campaign_id == campaign_id)
                .group_by(MessageOutcome.status)):
            counts.add(status, count)
        session.execute(update(CampaignCounter).where(CampaignCounter.campaign_id == campaign_id).values(
            updated_at=func.now(), **{column: getattr(counts, column) for column in COUNTER_COLUMNS}))
    log.info("counters recounted", campaign_id=campaign_id, sent=counts.sent, error=counts.error,
             invalid_recipients=counts.invalid_recipients, unsubscribed=counts.unsubscribed)
    return counts.sent, counts.error

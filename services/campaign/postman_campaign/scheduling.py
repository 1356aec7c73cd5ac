"""Scheduled sending: a READY job with ``scheduled_at`` is released (ENQUEUED, its SendJob written to the outbox)
once that time has come, and can be cancelled until then.

The state lives in the database only. Each tick selects the due READY jobs ``FOR UPDATE SKIP LOCKED`` and, in that
same transaction, moves them to ENQUEUED and writes their SendJobs to the outbox; the outbox is published after the
commit. A job is therefore released by exactly one transaction: another replica's scheduler skips the rows this one
holds and finds them ENQUEUED afterwards, and a process that dies mid-tick rolls back and leaves the jobs READY for
the next tick of any replica. A cancel locks the job too, so it either deletes a READY job before the scheduler sees
it, or waits and finds it released.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import delete, func, select

from postman_campaign.campaigns import CampaignView, latest_job, owned_campaign, views_of
from postman_campaign.models import Campaign, Job
from postman_campaign.sending import enqueue
from postman_shared.db import Database
from postman_shared.grpc.errors import InvalidArgument
from postman_shared.logging import get_logger
from postman_shared.timestamps import utcnow

TICK_SECONDS = 1.0
RELEASE_BATCH = 100

log = get_logger(component="scheduler")


class Scheduler:
    """Releases due scheduled jobs; ``run`` is the runtime loop (one tick every ``interval`` seconds)."""

    def __init__(self, database: Database, publish_outbox: Callable[[], object], interval: float = TICK_SECONDS,
                 batch_size: int = RELEASE_BATCH) -> None:
        self._database = database
        self._publish_outbox = publish_outbox
        self._interval = interval
        self._batch_size = batch_size

    def release_due(self) -> list[int]:
        """Releases every job that is due (in batches); returns their ids."""
        released: list[int] = []
        while True:
            batch = self._release_batch()
            released.extend(batch)
            if len(batch) < self._batch_size:
                break
        if released:
            try:
                self._publish_outbox()
            except Exception as exc:  # noqa: BLE001 - committed; the periodic relay publishes it later
                log.warning("outbox flush after release failed, the relay will retry", error=str(exc))
        return released

    def _release_batch(self) -> list[int]:
        with self._database.unit_of_work() as session:
            due = session.execute(
                select(Job.id, Job.campaign_id, Campaign.user_id)
                .join(Campaign, Campaign.id == Job.campaign_id)
                .where(Job.status == "READY", Job.scheduled_at.is_not(None), Job.scheduled_at <= func.now())
                .order_by(Job.scheduled_at, Job.id)
                .limit(self._batch_size)
                .with_for_update(of=Job, skip_locked=True)
            ).all()
            now = utcnow()
            for job_id, campaign_id, user_id in due:
                job = session.get(Job, job_id)
                assert job is not None  # locked above
                job.status = "ENQUEUED"
                job.status_updated_at = now
                enqueue(session, job_id, campaign_id, user_id)
        for job_id, campaign_id, _ in due:
            log.info("scheduled send released", campaign_id=campaign_id, job_id=job_id)
        return [job_id for job_id, _, _ in due]

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self._interval):
            try:
                self.release_due()
            except Exception:  # noqa: BLE001 - the loop must outlive a database hiccup; retried next tick
                log.exception("releasing scheduled sends failed")


def cancel_scheduled(database: Database, campaign_id: int, user_id: int) -> CampaignView:
    """Deletes the campaign's scheduled (READY) job: the campaign is a draft again. Refused, with the reason, when
    nothing is scheduled or the send has already been released."""
    with database.unit_of_work() as session:
        campaign = owned_campaign(session, campaign_id, user_id, lock=True)
        # Waits for a scheduler tick that holds the row, then sees the job as that tick left it.
        job = latest_job(session, campaign_id, lock=True)
        if job is None:
            raise InvalidArgument(f"Campaign {campaign_id} has no scheduled send to cancel: it has not been sent")
        if job.status != "READY":
            raise InvalidArgument(f"Campaign {campaign_id} has no scheduled send to cancel: its send has already "
                                  f"started (status {job.status})")
        session.execute(delete(Job).where(Job.id == job.id))
        view = views_of(session, [campaign])[0]
    log.info("scheduled send cancelled", campaign_id=campaign_id, job_id=job.id)
    return view

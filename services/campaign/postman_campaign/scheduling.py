"""Scheduled sending: a READY job with ``scheduled_at`` is released (ENQUEUED, its SendJob written to the outbox)
once that time has come, and can be cancelled until then.

The state lives in the database only. Each tick selects the due READY jobs ``FOR UPDATE SKIP LOCKED`` and, in that
same transaction, moves them to ENQUEUED and writes their SendJobs to the outbox; the outbox is published after the
commit. A job is therefore released by exactly one transaction: another replica's scheduler skips the rows this one
holds and finds them ENQUEUED afterwards, and a process that dies mid-tick rolls back and leaves the jobs READY for
the next tick of any replica. A cancel locks the job too, so it either deletes a READY job before the scheduler sees
it, or waits and finds it released.

Before the locking transaction, each due email campaign's From is checked with auth (``sender_check``): a job whose
From its owner may no longer use is not released but deleted, with an email to the owner (see ``Scheduler``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from postman_campaign import notices
from postman_campaign.campaigns import CampaignView, latest_job, owned_campaign, views_of
from postman_campaign.models import Campaign, EmailTemplate, Job
from postman_campaign.sender_check import Lookup, SenderCheck
from postman_campaign.sending import enqueue
from postman_campaign.statuses import JobStatus
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, ServiceError
from postman_shared.logging import get_logger
from postman_shared.timestamps import utcnow

TICK_SECONDS = 1.0
RELEASE_BATCH = 100

log = get_logger(component="scheduler")


@dataclass(frozen=True)
class _Release:
    header: str | None  # an email campaign's From as it will be sent (None: nothing to check)


@dataclass(frozen=True)
class _Refuse:
    reason: str  # why the campaign's From may not be used any more


_SKIP = None  # auth could not say: the job waits for the next tick


class Scheduler:
    """Releases due scheduled jobs; ``run`` is the runtime loop (one tick every ``interval`` seconds).

    An email campaign's From is checked again at release (``senders``, ``sender_check``): a scheduled send whose From
    the owner may no longer use (the address was removed from their sender addresses, or the draft was saved before
    the rule) is not released. Its job is deleted, so the campaign is a draft again that the owner can correct and
    send, and the owner is emailed why (``notices.schedule_refused``, audited ``campaign.schedule_cancelled``). When
    auth cannot be asked, the job stays READY for the next tick: late rather than unchecked."""

    def __init__(self, database: Database, publish_outbox: Callable[[], object], interval: float = TICK_SECONDS,
                 batch_size: int = RELEASE_BATCH, senders: SenderCheck | None = None, public_url: str = "") -> None:
        self._database = database
        self._publish_outbox = publish_outbox
        self._interval = interval
        self._batch_size = batch_size
        self._senders = senders
        self._public_url = public_url

    def release_due(self) -> list[int]:
        """Releases every job that is due (in batches); returns their ids."""
        released: list[int] = []
        refused: list[int] = []
        while True:
            considered, batch, not_released = self._release_batch()
            released.extend(batch)
            refused.extend(not_released)
            if considered < self._batch_size or not (batch or not_released):
                break
        if released or refused:
            try:
                self._publish_outbox()
            except Exception as exc:  # noqa: BLE001 - committed; the periodic relay publishes it later
                log.warning("outbox flush after release failed, the relay will retry", error=str(exc))
        return released

    def _judge_due(self) -> dict[int, _Release | _Refuse | None]:
        """What to do with each due job, decided before any lock is taken (asking auth is a network call)."""
        with self._database.session() as session:
            due = session.execute(
                select(Job.id, Campaign.user_id, Campaign.type, EmailTemplate.from_address)
                .join(Campaign, Campaign.id == Job.campaign_id)
                .outerjoin(EmailTemplate, EmailTemplate.campaign_id == Job.campaign_id)
                .where(Job.status == JobStatus.READY, Job.scheduled_at.is_not(None), Job.scheduled_at <= func.now())
                .order_by(Job.scheduled_at, Job.id)
                .limit(self._batch_size)
            ).all()
        verdicts: dict[int, _Release | _Refuse | None] = {}
        lookups: dict[int, Lookup] = {}
        for job_id, user_id, channel, from_address in due:
            if self._senders is None or channel != "EMAIL":
                verdicts[job_id] = _Release(None)
                continue
            lookup = lookups.setdefault(user_id, self._senders.lookup(user_id))
            try:
                verdicts[job_id] = _Release(self._senders.header(from_address or "", lookup))
            except ServiceError as exc:
                if exc.code == ErrorCode.INVALID_FROM_ADDRESS:
                    verdicts[job_id] = _Refuse(exc.message)
                else:
                    log.warning("scheduled send kept waiting: its From could not be checked", job_id=job_id,
                                error=exc.message)
                    verdicts[job_id] = _SKIP
        return verdicts

    def _release_batch(self) -> tuple[int, list[int], list[int]]:
        """(jobs considered, released, refused) of one batch."""
        verdicts = self._judge_due()
        ready = [job_id for job_id, verdict in verdicts.items() if verdict is not _SKIP]
        released: list[tuple[int, int]] = []
        refused: list[tuple[int, int]] = []
        if not ready:
            return len(verdicts), [], []
        with self._database.unit_of_work() as session:
            due = session.execute(
                select(Job.id, Job.campaign_id, Campaign.user_id)
                .join(Campaign, Campaign.id == Job.campaign_id)
                .where(Job.id.in_(ready), Job.status == JobStatus.READY, Job.scheduled_at <= func.now())
                .order_by(Job.scheduled_at, Job.id)
                .with_for_update(of=Job, skip_locked=True)
            ).all()
            now = utcnow()
            for job_id, campaign_id, user_id in due:
                job = session.get(Job, job_id)
                assert job is not None  # locked above
                verdict = verdicts[job_id]
                if isinstance(verdict, _Refuse):
                    self._refuse(session, job, verdict.reason)
                    refused.append((job_id, campaign_id))
                    continue
                if isinstance(verdict, _Release) and verdict.header is not None:
                    template = session.get(EmailTemplate, campaign_id)
                    if template is not None and template.from_address != verdict.header:
                        template.from_address = verdict.header  # as it will be sent (see sender_check)
                job.status = JobStatus.ENQUEUED
                job.status_updated_at = now
                enqueue(session, job_id, campaign_id, user_id)
                released.append((job_id, campaign_id))
        for job_id, campaign_id in released:
            log.info("scheduled send released", campaign_id=campaign_id, job_id=job_id)
        for job_id, campaign_id in refused:
            log.info("scheduled send not released: its From is not allowed", campaign_id=campaign_id, job_id=job_id)
        return len(verdicts), [job_id for job_id, _ in released], [job_id for job_id, _ in refused]

    def _refuse(self, session: Session, job: Job, reason: str) -> None:
        """The campaign is a draft again (its READY job deleted) and its owner is told why, in this transaction."""
        campaign = session.get(Campaign, job.campaign_id)
        assert campaign is not None  # the job's foreign key
        notices.schedule_refused(session, campaign, job.id, job.scheduled_at, reason, self._public_url)
        session.execute(delete(Job).where(Job.id == job.id))

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
        if job.status != JobStatus.READY:
            raise InvalidArgument(f"Campaign {campaign_id} has no scheduled send to cancel: its send has already "
                                  f"started (status {job.status})")
        session.execute(delete(Job).where(Job.id == job.id))
        view = views_of(session, [campaign])[0]
    log.info("scheduled send cancelled", campaign_id=campaign_id, job_id=job.id)
    return view

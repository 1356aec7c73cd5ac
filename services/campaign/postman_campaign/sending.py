"""Sending a campaign, and the pipeline's view of send jobs and recipients.

The job and its ``SendJob`` message are written in one transaction (transactional outbox); the message is published
only after the commit, so the renderer never hears of a job that does not exist. A send scheduled for later is a
READY job with ``scheduled_at`` and no message yet: the scheduler (``scheduling.py``) releases it at that time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from postman.v1 import common_pb2
from postman_campaign import models, notices, webhook_events
from postman_campaign.campaigns import CampaignView, ensure_channel, ensure_not_sent, owned_campaign, views_of
from postman_campaign.models import Campaign, Job, Upload
from postman_campaign.protected_messages import extend_expiry
from postman_campaign.recipients_store import recipients_after
from postman_campaign.sender_check import SenderCheck
from postman_campaign.statuses import JobStatus, UploadStatus, job_can_move
from postman_shared import outbox
from postman_shared.broker.topology import CAMPAIGN_SEND
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, NotFound
from postman_shared.logging import get_logger
from postman_shared.messages import SendJob
from postman_shared.timestamps import utcnow

CREDENTIAL_NEEDED = {
    "SMS": "The campaign has no Twilio credentials; add them (new-credentials) or choose saved ones (credentials) "
           "before sending",
    "TELEGRAM": "The campaign has no Telegram bot; add one (new-credentials) or choose a saved one (credentials) "
                "before sending",
}
MAX_SMS_RATE = 1000
DEFAULT_STREAM_BATCH = 1000
MAX_STREAM_BATCH = 5000

log = get_logger(component="sending")


@dataclass(frozen=True)
class JobDetails:
    job: Job
    campaign: CampaignView


@dataclass(frozen=True)
class SendRequest:
    campaign_id: int
    user_id: int
    channel: str = ""  # when set, a campaign of another channel is refused
    rate: int = 0  # SMS/TELEGRAM messages per second; 0: the channel's default
    scheduled_at: datetime | None = None  # in the future: released then by the scheduler; else sent at once
    simulated: bool = False  # sent with a test API key: every message simulated by the senders


def checked_rate(channel: str, rate: int, telegram_max_rate: int) -> int | None:
    """The send rate to store with the job: None for email (and for the channel's default), else 1..max."""
    if channel == "EMAIL" or rate == 0:
        return None
    if rate < 0:
        raise InvalidArgument("rate must be a whole number of messages per second, at least 1",
                              code=ErrorCode.API_VALIDATION)
    if channel == "TELEGRAM" and rate > telegram_max_rate:
        raise InvalidArgument(f"rate must be at most {telegram_max_rate} messages per second for Telegram, the most "
                              "Telegram lets a bot send", code=ErrorCode.API_VALIDATION)
    if rate > MAX_SMS_RATE:
        raise InvalidArgument(f"rate must be at most {MAX_SMS_RATE} messages per second", code=ErrorCode.API_VALIDATION)
    return rate


def send_campaign(database: Database, after_commit: Callable[[], object], request: SendRequest,
                  telegram_max_rate: int = 30, protected_retention_days: int = 30,
                  senders: SenderCheck | None = None) -> list[int]:
    """Creates the send job and its SendJob message; ``after_commit`` publishes the outbox. Returns the job ids.

    A ``scheduled_at`` in the future makes a READY job with no message: the scheduler releases it at that time.
    An email campaign's From is checked again (``senders``, see ``sender_check``): a From the user may not send from
    is refused now, whenever the template was saved."""
    campaign_id, user_id = request.campaign_id, request.user_id
    lookup = senders.prefetch(database, campaign_id, user_id) if senders is not None else None
    with database.unit_of_work() as session:
        campaign = owned_campaign(session, campaign_id, user_id, lock=True)
        if request.channel:
            ensure_channel(campaign, request.channel)
        ensure_not_sent(session, campaign_id)
        rate = checked_rate(campaign.type, request.rate, telegram_max_rate)
        if session.scalar(select(exists().where(Upload.campaign_id == campaign_id,
                                                Upload.status == UploadStatus.PROCESSING))):
            raise InvalidArgument("The recipient list is still being processed; send once it is done")
        view = views_of(session, [campaign])[0]
        _ensure_ready(view)
        if senders is not None and lookup is not None and isinstance(view.template, models.EmailTemplate):
            senders.apply(view.template, lookup)
        now = utcnow()
        scheduled_at = request.scheduled_at if request.scheduled_at is not None and request.scheduled_at > now \
            else None
        job = Job(campaign_id=campaign_id, status=JobStatus.READY if scheduled_at else JobStatus.ENQUEUED,
                  status_updated_at=now, send_rate=rate, scheduled_at=scheduled_at,
                  simulated=request.simulated or campaign.test)
        session.add(job)
        session.flush()
        job_id = job.id
        if campaign.protect:  # its messages are kept for the retention period from the send
            extend_expiry(session, campaign_id, scheduled_at or now, protected_retention_days)
        if scheduled_at is not None:
            log.info("campaign send scheduled", campaign_id=campaign_id, job_id=job_id,
                     scheduled_at=scheduled_at.isoformat())
            return [job_id]
        enqueue(session, job_id, campaign_id, user_id)
    log.info("campaign send enqueued", campaign_id=campaign_id, job_id=job_id)
    try:
        after_commit()
    except Exception as exc:  # noqa: BLE001 - the job is committed; the periodic relay publishes it later
        log.warning("outbox flush after send failed, the relay will retry", campaign_id=campaign_id, error=str(exc))
    return [job_id]


def enqueue(session: Session, job_id: int, campaign_id: int, user_id: int) -> None:
    """Writes the job's SendJob to the outbox, in the caller's transaction (published after its commit), and the
    owner's ``campaign.sent`` webhook event with it."""
    message = SendJob(job_id=job_id, campaign_id=campaign_id, user_id=user_id)
    outbox.write(session, models.outbox, CAMPAIGN_SEND, message.message_id, message.to_dict())
    webhook_events.sent(session, campaign_id, job_id)


def _ensure_ready(view: CampaignView) -> None:
    c = view.campaign
    if view.template is None:
        raise InvalidArgument("The campaign has no template; save a template before sending")
    if c.type in CREDENTIAL_NEEDED and c.credential_id is None:
        raise InvalidArgument(CREDENTIAL_NEEDED[c.type], code=ErrorCode.INVALID_CREDENTIALS)
    if not c.csv_filename:
        raise InvalidArgument("The campaign has no recipients; upload a recipient list before sending")
    if c.num_recipients - c.num_invalid <= 0:
        raise InvalidArgument(f"The recipient list {c.csv_filename!r} has no valid recipients")
    if view.missing_keys:
        raise InvalidArgument(f"The recipient list {c.csv_filename!r} has no column for the template keys: "
                              f"{', '.join(view.missing_keys)}. Upload a list with these columns, or change "
                              "the template")


def get_job(database: Database, job_id: int) -> JobDetails:
    with database.unit_of_work() as session:  # not session(): its rollback would expire what is returned
        job = session.get(Job, job_id)
        if job is None:
            raise NotFound("Job")
        campaign = session.get(Campaign, job.campaign_id)
        if campaign is None:
            raise NotFound("Campaign")
        return JobDetails(job=job, campaign=views_of(session, [campaign])[0])


@dataclass(frozen=True)
class FinishedNotice:
    """Emails the owner when a job is LOGGED with its counts (``notices.finished``), through the outbox."""

    public_url: str
    after_commit: Callable[[], object]


def set_job_status(database: Database, job_id: int, status: str, counts: common_pb2.OutcomeCounts | None = None,
                   notice: FinishedNotice | None = None) -> Job:
    """Moves the job forward; LOGGED with ``counts`` and a ``notice`` also emails the owner the campaign's counts
    (not for a simulated job: a test key's sends reach no provider)."""
    try:
        target = JobStatus(status.strip().upper())
    except ValueError:
        raise InvalidArgument(f"status must be one of {', '.join(JobStatus)}") from None
    notified = False
    with database.unit_of_work() as session:
        job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).one_or_none()
        if job is None:
            raise NotFound("Job")
        if not move_job(job, target):
            # Pipeline stages report independently (stats may log a job before the renderer's SENT arrives);
            # a job never moves back, so a late report is ignored rather than undoing a later state.
            log.info("job status kept", job_id=job_id, status=job.status, ignored=target)
            return job
        # A test key's campaign emails nobody: nothing a test key does reaches a provider. Its webhook event goes
        # (marked simulated): that is how an integration is tested.
        if target == JobStatus.LOGGED and counts is not None and notice is not None:
            campaign = session.get(Campaign, job.campaign_id)
            if campaign is not None:
                if not job.simulated:
                    notices.finished(session, campaign, job_id, counts, notice.public_url)
                webhook_events.finished(session, campaign, job, counts)
                notified = True
    log.info("job status set", job_id=job_id, campaign_id=job.campaign_id, status=target)
    if notified and notice is not None:
        try:
            notice.after_commit()
        except Exception as exc:  # noqa: BLE001 - the notice is committed; the periodic relay publishes it later
            log.warning("outbox flush after the job finished failed, the relay will retry", job_id=job_id,
                        error=str(exc))
    return job


def move_job(job: Job, status: JobStatus) -> bool:
    """Sets a locked job's status if that moves it forward (``statuses.JOB_TRANSITIONS``); returns whether it did."""
    if not job_can_move(job.status, status):
        return False
    now = utcnow()
    job.status = status
    job.status_updated_at = now
    if status == JobStatus.SENT or (status == JobStatus.LOGGED and job.sent_at is None):
        job.sent_at = now
    return True


def stream_recipients(database: Database, campaign_id: int, after_id: int, batch_size: int,
                      valid_only: bool, most: int = 0) -> Iterator[Sequence[Any]]:
    """Batches of recipients with id > ``after_id`` in id order; one short query per batch (keyset paging); at most
    ``most`` recipients in all (0: every one)."""
    if batch_size < 0 or most < 0:
        raise InvalidArgument("batch_size and limit must be positive")
    limit = min(batch_size or DEFAULT_STREAM_BATCH, MAX_STREAM_BATCH)
    if most:
        limit = min(limit, most)
    with database.engine.connect() as connection:
        if connection.scalar(select(Campaign.id).where(Campaign.id == campaign_id)) is None:
            raise NotFound("Campaign")
    cursor = after_id
    left = most
    while True:
        with database.engine.connect() as connection:
            rows = recipients_after(connection, campaign_id, cursor, min(limit, left) if most else limit, valid_only)
        if rows:
            yield rows
        if most:
            left -= len(rows)
        if len(rows) < limit or (most and left <= 0):
            return
        cursor = rows[-1].id

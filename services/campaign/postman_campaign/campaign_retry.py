"""An officer's retry (or resume) of a campaign: a new job that sends again the messages of the campaign that did
not go out.

The retry is a job like any other (ENQUEUED, a SendJob through the outbox), with ``retry_of`` naming the job it
retries, so every stage treats its messages as new ones: the renderer first asks stats to move the campaign's ERROR
outcomes back to unsent (``StartRetry``), then renders only the valid recipients stats has no outcome for, with
message ids ``<recipient_id>.<job_id>`` that the senders have never recorded. Only a finished job can be retried:
LOGGED (every message has an outcome) or STOPPED (stopped or halted; what it never sent is sent by the retry, which
is how a campaign is resumed).

A stopped job is resumed only once it has been STOPPED for ``RESUME_AFTER_STOP_SECONDS``: by then every renderer and
sender has seen the stop, and a message one of them was handing to the provider at that moment has been recorded,
so the resume cannot send it a second time (senders also never send a retry's message to a recipient whose earlier
message they recorded as sent). A halted campaign is resumed only with the owner's explicit confirmation
(``confirm_halted``): its list made too many messages bounce or be marked as spam. Resuming it clears ``halted``
(the reason is kept) and stats judges the resumed job on its own bounces and complaints.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from postman_campaign.campaigns import ensure_channel, latest_job, owned_campaign
from postman_campaign.models import EmailTemplate, Job
from postman_campaign.retention import redacted_error
from postman_campaign.sender_check import SenderCheck
from postman_campaign.sending import enqueue
from postman_campaign.statuses import FINISHED, JobStatus
from postman_shared.db import Database
from postman_shared.grpc.errors import InvalidArgument
from postman_shared.logging import get_logger
from postman_shared.timestamps import utcnow

RESUME_AFTER_STOP_SECONDS = 5

log = get_logger(component="retrying")


def retry_campaign(database: Database, after_commit: Callable[[], object], campaign_id: int, user_id: int,
                   channel: str = "", confirm_halted: bool = False, senders: SenderCheck | None = None) -> int:
    """Creates the retry job and its SendJob; ``after_commit`` publishes the outbox. Returns the new job's id.
    An email campaign's From is checked again (``sender_check``): a retry sends new messages too."""
    lookup = senders.prefetch(database, campaign_id, user_id) if senders is not None else None
    with database.unit_of_work() as session:
        campaign = owned_campaign(session, campaign_id, user_id, lock=True)
        if channel:
            ensure_channel(campaign, channel)
        if campaign.redacted:  # its recipients are gone (the purge holds this same lock while it marks one)
            raise redacted_error(campaign_id, campaign.redacted_at)
        latest = latest_job(session, campaign_id)
        if latest is None:
            raise InvalidArgument(f"Campaign {campaign_id} has not been sent, so there is nothing to retry; send it")
        if latest.status == JobStatus.READY:
            raise InvalidArgument(f"Campaign {campaign_id} is scheduled and has not been sent yet, so there is "
                                  "nothing to retry")
        if latest.status not in FINISHED:
            raise InvalidArgument(f"Campaign {campaign_id} is still sending (status {latest.status}); retry it once "
                                  "every message has an outcome (status LOGGED)")
        if campaign.halted:
            if not confirm_halted:
                raise InvalidArgument(
                    f"Campaign {campaign_id} was halted: {campaign.halt_reason}. Check the recipient list; to send "
                    "its remaining messages anyway, retry with {\"confirm_halted\": true}")
        if latest.status == JobStatus.STOPPED and latest.status_updated_at > utcnow() - timedelta(
                seconds=RESUME_AFTER_STOP_SECONDS):
            raise InvalidArgument(f"Campaign {campaign_id} is still stopping: the messages being handed to the "
                                  f"provider are being recorded. Resume it in {RESUME_AFTER_STOP_SECONDS} seconds")
        if senders is not None and lookup is not None:
            template = session.get(EmailTemplate, campaign_id) if campaign.type == "EMAIL" else None
            if template is not None:
                senders.apply(template, lookup)
        campaign.halted = False
        job = Job(campaign_id=campaign_id, status=JobStatus.ENQUEUED, status_updated_at=utcnow(),
                  send_rate=latest.send_rate, retry_of=latest.id, simulated=latest.simulated)
        session.add(job)
        session.flush()
        job_id = job.id
        enqueue(session, job_id, campaign_id, user_id)
    log.info("campaign retry enqueued", campaign_id=campaign_id, job_id=job_id, retry_of=latest.id)
    try:
        after_commit()
    except Exception as exc:  # noqa: BLE001 - the job is committed; the periodic relay publishes it later
        log.warning("outbox flush after retry failed, the relay will retry", campaign_id=campaign_id, error=str(exc))
    return job_id

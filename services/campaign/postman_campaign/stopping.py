"""Stopping a campaign: by its owner (``StopCampaign``) or automatically when its bounces or complaints pass the
thresholds (``HaltCampaign``, asked by stats).

Either way the campaign's unfinished job becomes STOPPED, in one short transaction. The job's state lives only
here; the renderer and every sender replica ask ``GetStoppedJobs`` for the jobs of the messages they hold (at most
every half second, ``postman_shared.job_stops``) and hand no message of a STOPPED job to a provider: what was not
handed over stays unsent, and a retry resumes exactly that.

A halt also marks the campaign halted with the reason, and emails the owner, once per job; a retry of a halted
campaign then needs the owner's explicit confirmation (``campaign_retry.py``). A halt that comes after the job finished
(the last bounces arrive after the last message was sent) still marks the campaign and tells the owner: nothing is
left to stop, but the list needs looking at before any retry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import select

from postman.v1 import common_pb2
from postman_campaign import notices, webhook_events
from postman_campaign.campaigns import CampaignView, ensure_channel, latest_job, owned_campaign, views_of
from postman_campaign.models import Campaign, Job
from postman_campaign.sending import move_job
from postman_campaign.statuses import STOPPABLE, JobStatus
from postman_shared.db import Database
from postman_shared.grpc.errors import InvalidArgument, NotFound
from postman_shared.logging import get_logger
from postman_shared.timestamps import utcnow

MAX_STOPPED_QUERY = 1000

log = get_logger(component="stopping")


def stop_campaign(database: Database, campaign_id: int, user_id: int, channel: str = "") -> CampaignView:
    """Stops the owner's campaign that is sending; refuses one that is not (with what to do instead)."""
    with database.unit_of_work() as session:
        campaign = owned_campaign(session, campaign_id, user_id, lock=True)
        if channel:
            ensure_channel(campaign, channel)
        latest = latest_job(session, campaign_id, lock=True)
        if latest is None:
            raise InvalidArgument(f"Campaign {campaign_id} has not been sent, so there is nothing to stop")
        if latest.status == JobStatus.READY:
            raise InvalidArgument(f"Campaign {campaign_id} is scheduled and has not started sending; cancel the "
                                  "scheduled send instead (POST /v1/campaigns/{id}/cancel)")
        if latest.status not in STOPPABLE:
            raise InvalidArgument(f"Campaign {campaign_id} is not sending (its send is {latest.status}), so there is "
                                  "nothing to stop")
        move_job(latest, JobStatus.STOPPED)
        log.info("campaign stopped by its owner", campaign_id=campaign_id, job_id=latest.id)
        return views_of(session, [campaign])[0]


def halt_campaign(database: Database, after_commit: Callable[[], object], campaign_id: int, job_id: int,
                  reason: str, counts: common_pb2.OutcomeCounts, public_url: str) -> CampaignView:
    """Halts the campaign for ``job_id`` (stats found its bounces or complaints past the thresholds): marks it
    halted with ``reason``, stops that job if it is still unfinished and emails the owner. Idempotent: a campaign
    already halted, or a job that is no longer the campaign's latest, changes nothing."""
    reason = reason.strip()[:1000] or "too many of its messages bounced or were marked as spam"
    with database.unit_of_work() as session:
        campaign = session.scalars(select(Campaign).where(Campaign.id == campaign_id).with_for_update()).one_or_none()
        if campaign is None:
            raise NotFound("Campaign")
        latest = latest_job(session, campaign_id, lock=True)
        if latest is None or latest.id != job_id or campaign.halted:
            log.info("halt ignored: already halted, or the job is not the latest", campaign_id=campaign_id,
                     job_id=job_id, halted=campaign.halted)
            return views_of(session, [campaign])[0]
        campaign.halted = True
        campaign.halt_reason = reason
        campaign.halted_at = utcnow()
        if latest.status in STOPPABLE:
            move_job(latest, JobStatus.STOPPED)
        if not latest.simulated:  # a test key's campaign emails nobody
            notices.halted(session, campaign, job_id, reason, counts, public_url)
        webhook_events.halted(session, campaign, latest, reason, counts)  # the owner's systems: simulated too
        view = views_of(session, [campaign])[0]
    log.warning("campaign halted", campaign_id=campaign_id, job_id=job_id, reason=reason)
    _flush(after_commit, campaign_id)
    return view


def stopped_jobs(database: Database, job_ids: Iterable[int]) -> list[int]:
    """Which of these jobs are STOPPED (one indexed query)."""
    ids = sorted(set(job_ids))
    if len(ids) > MAX_STOPPED_QUERY:
        raise InvalidArgument(f"at most {MAX_STOPPED_QUERY} job ids at a time")
    if not ids:
        return []
    with database.session() as session:
        return list(session.scalars(select(Job.id).where(Job.id.in_(ids), Job.status == JobStatus.STOPPED)))


def _flush(after_commit: Callable[[], object], campaign_id: int) -> None:
    try:
        after_commit()
    except Exception as exc:  # noqa: BLE001 - the notice is committed; the periodic relay publishes it later
        log.warning("outbox flush after halt failed, the relay will retry", campaign_id=campaign_id, error=str(exc))

"""What disabling a user (``postmanctl disable-user``) does to their campaigns: nothing of theirs goes out any more.

Disabling ends the user's sessions and API keys in auth, but a send already scheduled, or already sending, needs
neither: the scheduler would release it and the senders would finish it. So ``StopCampaignsOfUser`` cancels every
scheduled (READY) send of the user's campaigns, which become drafts again exactly as with ``CancelScheduledSend``,
and stops every unfinished sending job, exactly as ``StopCampaign`` does (the renderer and the senders hand no more
of its messages to a provider; ``stopping.py``). One transaction over the jobs, locked, so a scheduler tick either
released a job before (it is then stopped) or finds it gone. Calling it again finds nothing left to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from postman_campaign.models import Campaign, Job
from postman_campaign.sending import move_job
from postman_campaign.statuses import STOPPABLE, JobStatus
from postman_shared.db import Database
from postman_shared.grpc.errors import InvalidArgument
from postman_shared.logging import get_logger

log = get_logger(component="disabled-owner")


@dataclass(frozen=True)
class StoppedOfUser:
    cancelled_campaign_ids: list[int]  # a scheduled send was cancelled
    stopped_campaign_ids: list[int]  # a sending job was stopped


def stop_campaigns_of_user(database: Database, user_id: int) -> StoppedOfUser:
    """Cancels the user's scheduled sends and stops their sending jobs; returns the campaigns each touched."""
    if user_id <= 0:
        raise InvalidArgument("StopCampaignsOfUser needs the id of a user")
    cancelled: list[int] = []
    stopped: list[int] = []
    with database.unit_of_work() as session:
        jobs = session.scalars(
            select(Job).join(Campaign, Campaign.id == Job.campaign_id)
            .where(Campaign.user_id == user_id, Job.status.in_((JobStatus.READY, *STOPPABLE)))
            .order_by(Job.id)
            .with_for_update(of=Job)
        ).all()
        for job in jobs:
            if job.status == JobStatus.READY:
                session.execute(delete(Job).where(Job.id == job.id))
                cancelled.append(job.campaign_id)
            elif move_job(job, JobStatus.STOPPED):
                stopped.append(job.campaign_id)
    for campaign_id in cancelled:
        log.info("scheduled send cancelled: its owner was disabled", user_id=user_id, campaign_id=campaign_id)
    for campaign_id in stopped:
        log.info("campaign stopped: its owner was disabled", user_id=user_id, campaign_id=campaign_id)
    return StoppedOfUser(sorted(set(cancelled)), sorted(set(stopped)))

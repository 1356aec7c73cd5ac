"""Campaign events for the owner's client webhook (issue 16): a send started (``campaign.sent``: a send, a scheduled
send released, a retry), the campaign halted (``campaign.halted``, with why) and its job finished
(``campaign.finished``), each with its counts. Each is written to ``campaign_outbox`` in the transaction of the change
it reports, like the owner notices, and stats delivers it (``client.webhooks``) when the owner has a campaign webhook.
A test key's campaign sends its events too, marked ``simulated``: that is how an integration is tested."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from postman.v1 import common_pb2
from postman_campaign import models
from postman_campaign.models import Campaign, Job
from postman_shared import client_webhooks
from postman_shared.client_webhooks import ClientWebhookEvent
from postman_shared.timestamps import utcnow


def _campaign(campaign: Campaign, job: Job | None, job_id: int) -> dict[str, Any]:
    return {"campaign_id": campaign.id, "name": campaign.name, "channel": campaign.type, "job_id": job_id,
            "simulated": bool(job.simulated) if job is not None else bool(campaign.test)}


def _counts(campaign: Campaign, counts: common_pb2.OutcomeCounts) -> dict[str, int]:
    values = {field.name: int(getattr(counts, field.name)) for field in counts.DESCRIPTOR.fields}
    values["recipients"] = campaign.num_recipients
    values["unsent"] = max(0, campaign.num_recipients - campaign.num_invalid - counts.sent - counts.error
                           - counts.invalid - counts.unsubscribed)
    return values


def _emit(session: Session, event_id: str, campaign: Campaign, event_type: str, data: dict[str, Any]) -> None:
    client_webhooks.emit(session, models.outbox, ClientWebhookEvent(
        event_id=event_id, user_id=campaign.user_id, kind=client_webhooks.CAMPAIGN, type=event_type,
        occurred_at=utcnow().isoformat(), data=data))


def sent(session: Session, campaign_id: int, job_id: int) -> None:
    """The job's send started (its SendJob is written in the same transaction)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return
    job = session.get(Job, job_id)
    _emit(session, f"campaign-sent-{job_id}", campaign, "campaign.sent", {
        **_campaign(campaign, job, job_id), "retry_of": job.retry_of if job is not None else None,
        "counts": {"recipients": campaign.num_recipients, "invalid": campaign.num_invalid,
                   "to_send": max(0, campaign.num_recipients - campaign.num_invalid)}})


def finished(session: Session, campaign: Campaign, job: Job, counts: common_pb2.OutcomeCounts) -> None:
    _emit(session, f"campaign-finished-{job.id}", campaign, "campaign.finished",
          {**_campaign(campaign, job, job.id), "counts": _counts(campaign, counts)})


def halted(session: Session, campaign: Campaign, job: Job, reason: str, counts: common_pb2.OutcomeCounts) -> None:
    _emit(session, f"campaign-halted-{job.id}", campaign, "campaign.halted",
          {**_campaign(campaign, job, job.id), "reason": reason, "counts": _counts(campaign, counts)})

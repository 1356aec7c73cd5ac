"""The words of a campaign's send as every service says them: a send job's status and the campaign's status in lists.

A job's status (``jobs.status``, ``Job.status`` and ``SetJobStatusRequest.status`` on the wire) is campaign's to
keep; the renderer reports SENDING and SENT, stats reports LOGGED, an officer's stop makes it STOPPED. The values are
the strings stored and sent today, so the database and the wire do not change. Which moves campaign accepts is its
own rule (``postman_campaign.statuses``).

A campaign's status is not stored: it is derived from its latest job (``campaign_status``), the ``status`` of
``GET /campaigns`` (upstream Postman's Draft, Sending, Sent, and Scheduled).
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    READY = "READY"  # created, waiting for its scheduled time (a scheduled send)
    ENQUEUED = "ENQUEUED"  # its SendJob is on (or on its way to) campaign.send
    SENDING = "SENDING"  # the renderer is rendering it
    SENT = "SENT"  # every message rendered and handed to a sender
    STOPPED = "STOPPED"  # stopped by the owner, halted, or its owner disabled; a retry resumes the campaign
    LOGGED = "LOGGED"  # stats has an outcome for every message: finished


# The job's stage is over: the renderer treats a redelivered SendJob of such a job as already done.
RENDERED = frozenset({JobStatus.SENT, JobStatus.LOGGED, JobStatus.STOPPED})
# Sent in the campaign list's sense: every message went to a sender (and perhaps every outcome is in).
DONE = (JobStatus.SENT, JobStatus.LOGGED)
# Not sending any more, until a retry: what a retry resumes and what the retention purge may redact.
FINISHED = (JobStatus.LOGGED, JobStatus.STOPPED)


class CampaignStatus(StrEnum):
    DRAFT = "Draft"  # never sent: no job
    SCHEDULED = "Scheduled"  # its latest job is READY
    SENDING = "Sending"  # its latest job is on its way (or stopped)
    SENT = "Sent"  # its latest job is SENT or LOGGED


def campaign_status(latest_job_status: str | None) -> CampaignStatus:
    """The campaign's status, from the status of its latest job (None: it has none)."""
    if latest_job_status is None:
        return CampaignStatus.DRAFT
    if latest_job_status == JobStatus.READY:
        return CampaignStatus.SCHEDULED
    if latest_job_status in DONE:
        return CampaignStatus.SENT
    return CampaignStatus.SENDING

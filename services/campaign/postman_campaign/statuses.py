"""Every status the campaign service keeps, and the moves between them it allows: in one place.

- A send job (``jobs.status``): ``JobStatus``, shared with the renderer and stats that report it
  (``postman_shared.campaign_statuses``). A job only moves forward, READY -> ENQUEUED -> SENDING -> SENT -> LOGGED,
  and may skip stages (pipeline stages report independently: stats may log a job before the renderer's SENT
  arrives); STOPPED is reached from any unfinished status. LOGGED and STOPPED are final: a stopped campaign is
  resumed by a new job (``campaign_retry.py``), never by moving the old one.
- A campaign (``GET /campaigns``' ``status``): ``CampaignStatus``, derived from its latest job, never stored.
- A recipient file upload (``uploads.status``): ``UploadStatus``.
- A password-protected message as its link describes it: ``ProtectedMessageState``.

The values are the strings stored and sent today. The tables below are what the code allowed before they existed:
a test (``tests/unit/test_statuses.py``) pins them, so a change to a rule is a change to this file and its test.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from postman_shared.campaign_statuses import DONE, FINISHED, RENDERED, CampaignStatus, JobStatus, campaign_status

# Where a job may move from each status (``sending.move_job``); a report of any other move is ignored.
JOB_TRANSITIONS: Mapping[str, frozenset[JobStatus]] = {
    JobStatus.READY: frozenset({JobStatus.ENQUEUED, JobStatus.SENDING, JobStatus.SENT, JobStatus.LOGGED,
                                JobStatus.STOPPED}),
    JobStatus.ENQUEUED: frozenset({JobStatus.SENDING, JobStatus.SENT, JobStatus.LOGGED, JobStatus.STOPPED}),
    JobStatus.SENDING: frozenset({JobStatus.SENT, JobStatus.LOGGED, JobStatus.STOPPED}),
    JobStatus.SENT: frozenset({JobStatus.LOGGED, JobStatus.STOPPED}),
    JobStatus.LOGGED: frozenset(),
    JobStatus.STOPPED: frozenset(),
}
# A stored status outside the enum (none is written) held nothing back before this table: it still does not.
_FROM_UNKNOWN = frozenset(JobStatus)

# Stoppable: a send on its way (a READY one is cancelled instead: it has sent nothing).
STOPPABLE = (JobStatus.ENQUEUED, JobStatus.SENDING, JobStatus.SENT)
# Counted by ``postman_jobs{channel, status}``: every status but LOGGED.
UNFINISHED = (JobStatus.READY, JobStatus.ENQUEUED, JobStatus.SENDING, JobStatus.SENT, JobStatus.STOPPED)


def job_can_move(current: str, new: str) -> bool:
    """Whether a job in ``current`` may move to ``new``."""
    return new in JOB_TRANSITIONS.get(current, _FROM_UNKNOWN)


class UploadStatus(StrEnum):
    """STARTED -> PROCESSING -> DONE | FAILED (-> CLEARED once its error is dismissed); STARTED -> ABANDONED."""

    STARTED = "STARTED"  # a presigned URL handed out; the file is on its way to the object store
    PROCESSING = "PROCESSING"  # completed: a worker reads the file into ``recipients``
    DONE = "DONE"  # its recipients are the campaign's list
    FAILED = "FAILED"  # the file was refused; ``error`` says why
    CLEARED = "CLEARED"  # a FAILED upload whose error the user has dismissed (DELETE .../upload/status)
    ABANDONED = "ABANDONED"  # STARTED but never completed within UPLOAD_ABANDON_HOURS: its file is deleted


UPLOAD_TRANSITIONS: Mapping[str, frozenset[UploadStatus]] = {
    UploadStatus.STARTED: frozenset({UploadStatus.PROCESSING, UploadStatus.ABANDONED}),
    UploadStatus.PROCESSING: frozenset({UploadStatus.DONE, UploadStatus.FAILED}),
    UploadStatus.DONE: frozenset(),
    UploadStatus.FAILED: frozenset({UploadStatus.CLEARED}),
    UploadStatus.CLEARED: frozenset(),
    UploadStatus.ABANDONED: frozenset(),
}


def upload_can_move(current: str, new: str) -> bool:
    """Whether an upload in ``current`` may move to ``new`` (the conditions of the updates that move it)."""
    return new in UPLOAD_TRANSITIONS.get(current, frozenset())


class ProtectedMessageState(StrEnum):
    """What a protected message's link says of it (``DescribeProtectedMessage``); derived, never stored."""

    READY = "READY"  # its payload can be opened with the password
    EXPIRED = "EXPIRED"  # the retention period erased its payload


__all__ = [
    "DONE",
    "FINISHED",
    "JOB_TRANSITIONS",
    "RENDERED",
    "STOPPABLE",
    "UNFINISHED",
    "UPLOAD_TRANSITIONS",
    "CampaignStatus",
    "JobStatus",
    "ProtectedMessageState",
    "UploadStatus",
    "campaign_status",
    "job_can_move",
    "upload_can_move",
]

"""Campaign's statuses and the moves it allows (``postman_campaign.statuses``): the tables pinned as the code had them.

A change to a rule (a finished job that could be sent again, an upload that could be processed twice) must change
this test too."""

from __future__ import annotations

import pytest

from postman_campaign.statuses import (
    FINISHED,
    JOB_TRANSITIONS,
    RENDERED,
    STOPPABLE,
    UNFINISHED,
    UPLOAD_TRANSITIONS,
    CampaignStatus,
    JobStatus,
    UploadStatus,
    campaign_status,
    job_can_move,
    upload_can_move,
)

J = JobStatus
U = UploadStatus


def test_values_are_the_strings_stored_and_sent() -> None:
    assert [s.value for s in JobStatus] == ["READY", "ENQUEUED", "SENDING", "SENT", "STOPPED", "LOGGED"]
    assert [s.value for s in UploadStatus] == ["STARTED", "PROCESSING", "DONE", "FAILED", "CLEARED", "ABANDONED"]
    assert [s.value for s in CampaignStatus] == ["Draft", "Scheduled", "Sending", "Sent"]


def test_job_table() -> None:
    assert JOB_TRANSITIONS == {
        J.READY: {J.ENQUEUED, J.SENDING, J.SENT, J.LOGGED, J.STOPPED},
        J.ENQUEUED: {J.SENDING, J.SENT, J.LOGGED, J.STOPPED},
        J.SENDING: {J.SENT, J.LOGGED, J.STOPPED},
        J.SENT: {J.LOGGED, J.STOPPED},
        J.LOGGED: set(),
        J.STOPPED: set(),
    }


def _moves_forward_as_before(current: str, new: str) -> bool:
    """``sending._moves_forward`` before the table: the rule the table was derived from."""
    progress = {"READY": 0, "ENQUEUED": 1, "SENDING": 2, "SENT": 3, "LOGGED": 4}
    if current in ("LOGGED", "STOPPED"):
        return False
    if new == "STOPPED":
        return True
    return progress.get(new, -1) > progress.get(current, -1)


@pytest.mark.parametrize("current", [*JobStatus, "UNKNOWN"])
@pytest.mark.parametrize("new", [*JobStatus, "UNKNOWN"])
def test_job_table_allows_what_the_code_allowed(current: str, new: str) -> None:
    assert job_can_move(current, new) == _moves_forward_as_before(current, new)


@pytest.mark.parametrize("new", list(JobStatus))
def test_a_finished_job_never_moves(new: JobStatus) -> None:
    assert not job_can_move(J.LOGGED, new)
    assert not job_can_move(J.STOPPED, new)


def test_a_job_never_moves_back_or_stays() -> None:
    assert not job_can_move(J.SENT, J.SENDING)
    assert not job_can_move(J.SENDING, J.ENQUEUED)
    assert not job_can_move(J.ENQUEUED, J.READY)
    assert not any(job_can_move(status, status) for status in JobStatus)


def test_every_unfinished_job_can_be_stopped() -> None:
    assert {s for s in JobStatus if job_can_move(s, J.STOPPED)} == {J.READY, J.ENQUEUED, J.SENDING, J.SENT}


def test_groups() -> None:
    assert STOPPABLE == (J.ENQUEUED, J.SENDING, J.SENT)
    assert UNFINISHED == (J.READY, J.ENQUEUED, J.SENDING, J.SENT, J.STOPPED)
    assert FINISHED == (J.LOGGED, J.STOPPED)
    assert RENDERED == {J.SENT, J.LOGGED, J.STOPPED}


def test_upload_table() -> None:
    assert UPLOAD_TRANSITIONS == {
        U.STARTED: {U.PROCESSING, U.ABANDONED},
        U.PROCESSING: {U.DONE, U.FAILED},
        U.DONE: set(),
        U.FAILED: {U.CLEARED},
        U.CLEARED: set(),
        U.ABANDONED: set(),
    }
    assert not upload_can_move(U.DONE, U.PROCESSING)
    assert not upload_can_move(U.ABANDONED, U.PROCESSING)
    assert not upload_can_move("UNKNOWN", U.DONE)


@pytest.mark.parametrize(("latest", "expected"), [
    (None, CampaignStatus.DRAFT),
    ("READY", CampaignStatus.SCHEDULED),
    ("ENQUEUED", CampaignStatus.SENDING),
    ("SENDING", CampaignStatus.SENDING),
    ("STOPPED", CampaignStatus.SENDING),
    ("SENT", CampaignStatus.SENT),
    ("LOGGED", CampaignStatus.SENT),
])
def test_campaign_status_is_its_latest_jobs(latest: str | None, expected: CampaignStatus) -> None:
    assert campaign_status(latest) == expected

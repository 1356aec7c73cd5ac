"""A job is LOGGED once every message it published has a recorded outcome.

Checked after each batch for the campaigns it touched, and swept periodically for all unfinished campaigns in case
the campaign service was unreachable. The renderer may still be about to report SENT when the last outcome arrives;
campaign only ever moves a job forward, so that late SENT is ignored and LOGGED stands. ``logged_at`` is set after
campaign has accepted the change, so a failure is retried, never lost.
"""

from __future__ import annotations

import threading
from typing import Protocol

from sqlalchemy import text

from postman.v1 import common_pb2
from postman_shared.campaign_statuses import JobStatus
from postman_shared.db import Database
from postman_shared.grpc.errors import ServiceError
from postman_shared.logging import get_logger
from postman_stats.reading import outcome_counts

log = get_logger(component="finishing")

SWEEP_SECONDS = 5.0

_COMPLETE = (
    "SELECT * FROM campaign_counters WHERE logged_at IS NULL AND expected IS NOT NULL AND job_id IS NOT NULL "
    "AND sent + error + invalid_recipients + unsubscribed >= expected"
)
_MARK_LOGGED = text("UPDATE campaign_counters SET logged_at = now() WHERE campaign_id = :c AND logged_at IS NULL")


class Jobs(Protocol):
    def set_job_status(self, job_id: int, status: str, counts: common_pb2.OutcomeCounts | None = None) -> None: ...


def finish_completed(database: Database, jobs: Jobs, campaign_ids: list[int] | None = None) -> list[int]:
    """Sets LOGGED on the completed jobs of these campaigns (all campaigns when None), with their counts for the
    owner's email; returns the campaigns done."""
    with database.session() as session:
        if campaign_ids is None:
            complete = session.execute(text(_COMPLETE)).mappings().all()
        else:
            complete = session.execute(text(_COMPLETE + " AND campaign_id = ANY(:ids)"),
                                       {"ids": campaign_ids}).mappings().all()
    finished = []
    for row in complete:
        campaign_id, job_id = row["campaign_id"], row["job_id"]
        try:
            jobs.set_job_status(job_id, JobStatus.LOGGED, outcome_counts(row))
        except ServiceError as exc:
            log.warning("cannot mark job LOGGED yet", campaign_id=campaign_id, job_id=job_id, error=exc.message)
            continue
        with database.unit_of_work() as session:
            session.execute(_MARK_LOGGED, {"c": campaign_id})
        log.info("job logged", campaign_id=campaign_id, job_id=job_id)
        finished.append(campaign_id)
    return finished


def sweep_periodically(database: Database, jobs: Jobs, stopping: threading.Event) -> None:
    while not stopping.wait(SWEEP_SECONDS):
        try:
            finish_completed(database, jobs)
        except Exception:  # noqa: BLE001 - the loop must outlive a database hiccup
            log.exception("sweep of completed jobs failed")

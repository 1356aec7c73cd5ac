"""Whether a send job was stopped (by its owner, or halted), as the renderer and the senders see it: asked of the
campaign service at most every ``max_age`` seconds, so a stop reaches every replica within about a second while a
sender handing thousands of messages a second asks a couple of times a second, not once a message.

A job once seen STOPPED stays stopped (it never moves back). When campaign cannot be reached, the last answer holds
(a job not known yet counts as not stopped: a stop is a brake, and campaign being briefly unreachable must not
stall every campaign); the error is logged and asked again ``max_age`` later, so an outage costs one short wait per
``max_age``, not one per message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from postman.v1 import campaign_pb2, campaign_pb2_grpc
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError
from postman_shared.logging import get_logger

MAX_AGE_SECONDS = 0.5
FETCH_TIMEOUT_SECONDS = 2.0
# Jobs not heard of for this long are forgotten (a sender sees many jobs over its life).
FORGET_AFTER_SECONDS = 600.0

log = get_logger(component="job-stops")

Fetch = Callable[[list[int]], Iterable[int]]


def campaign_fetch(campaign_addr: str) -> Fetch:
    """Asks CampaignService.GetStoppedJobs at ``campaign_addr``."""
    def fetch(job_ids: list[int]) -> list[int]:
        stub = client.stub(campaign_addr, campaign_pb2_grpc.CampaignServiceStub)
        reply = client.call(stub.GetStoppedJobs, campaign_pb2.GetStoppedJobsRequest(job_ids=job_ids),
                            timeout=FETCH_TIMEOUT_SECONDS)
        return list(reply.stopped_job_ids)

    return fetch


class JobStops:
    def __init__(self, fetch: Fetch, max_age: float = MAX_AGE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._stopped: set[int] = set()
        self._checked_at: dict[int, float] = {}  # job -> when campaign last said it was not stopped
        self._seen_at: dict[int, float] = {}

    def stopped(self, job_ids: Iterable[int]) -> set[int]:
        """Which of these jobs are stopped, asking campaign about those not checked in the last ``max_age``."""
        wanted = {job_id for job_id in job_ids if job_id > 0}
        now = self._clock()
        with self._lock:
            for job_id in wanted:
                self._seen_at[job_id] = now
            stale = [job_id for job_id in wanted - self._stopped
                     if now - self._checked_at.get(job_id, float("-inf")) >= self._max_age]
            if stale:
                # Every job seen lately is asked about in the same call, so a busy sender asks once per max_age.
                recent = {j for j, seen in self._seen_at.items() if now - seen < FORGET_AFTER_SECONDS}
                self._refresh(sorted((recent | set(stale)) - self._stopped), now)
            return wanted & self._stopped

    def is_stopped(self, job_id: int) -> bool:
        return bool(self.stopped([job_id]))

    def _refresh(self, job_ids: list[int], now: float) -> None:
        for job_id in job_ids:
            self._checked_at[job_id] = now
        try:
            self._stopped |= set(self._fetch(job_ids))
        except ServiceError as exc:
            log.warning("cannot ask campaign which jobs are stopped; the last answer holds", error=exc.message)
        for job_id in [j for j, seen in self._seen_at.items() if now - seen >= FORGET_AFTER_SECONDS]:
            self._seen_at.pop(job_id, None)
            self._checked_at.pop(job_id, None)

"""Halting a campaign whose recipients bounce or complain too much, before the provider suspends the account.

SES pauses sending for an account whose bounce rate passes about 5% or whose complaint rate passes about 0.1%: one
bad recipient list must not take every agency's email down. So when a campaign's hard bounces exceed both
``HALT_HARD_BOUNCES`` and ``HALT_HARD_BOUNCE_PERCENT`` of the messages it handed to a provider, or its complaints
exceed both ``HALT_COMPLAINTS`` and ``HALT_COMPLAINT_PERCENT`` (upstream Postman's rule, "more than a count and a
share", with a smaller threshold for complaints), stats asks campaign to halt it: no further message is handed to
a provider, the campaign says why, and the owner is emailed. Counts are taken since the campaign's current job
started (``halt_base_*``, set when a retry starts), so a resumed campaign is judged on what it sent since.

Checked after every batch that brought a hard bounce or a complaint, and swept every few seconds in case campaign
was unreachable; ``halted_at`` is set once campaign has accepted, so a campaign is halted once per job.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import text

from postman.v1 import common_pb2
from postman_shared.db import Database
from postman_shared.grpc.errors import ServiceError
from postman_shared.logging import get_logger
from postman_shared.settings import Settings
from postman_stats.metrics import HALTS
from postman_stats.reading import outcome_counts

log = get_logger(component="halting")

SWEEP_SECONDS = 5.0

# Messages handed to a provider: everything recorded except what was never sent (blacklisted, unsubscribed).
_HANDED = "(sent + error + invalid_recipients - blacklisted)"
_CANDIDATES = (
    f"SELECT *, {_HANDED} - halt_base_outcomes AS handed_since, "  # noqa: S608 - constant text
    "hard_bounced - halt_base_hard_bounced AS hard_since, "
    "complained - halt_base_complained AS complaints_since FROM campaign_counters "
    "WHERE halted_at IS NULL AND job_id IS NOT NULL "
    "AND (hard_bounced > halt_base_hard_bounced OR complained > halt_base_complained)"
)
_MARK_HALTED = text("UPDATE campaign_counters SET halted_at = now() WHERE campaign_id = :c AND halted_at IS NULL")
# What a retry starts from: the counts when it started.
BASELINE = {"halt_base_outcomes": _HANDED, "halt_base_hard_bounced": "hard_bounced",
            "halt_base_complained": "complained"}


@dataclass(frozen=True)
class Thresholds:
    hard_bounces: int = 10
    hard_bounce_percent: float = 10.0
    complaints: int = 3
    complaint_percent: float = 0.1

    @classmethod
    def from_settings(cls, settings: Settings) -> "Thresholds":
        return cls(settings.halt_hard_bounces, settings.halt_hard_bounce_percent, settings.halt_complaints,
                   settings.halt_complaint_percent)

    def reason(self, handed: int, hard_bounces: int, complaints: int) -> str | None:
        """Why a campaign with these counts (since its job started) must halt, in an officer's words; None: it may
        go on."""
        if _exceeds(hard_bounces, handed, self.hard_bounces, self.hard_bounce_percent):
            return (f"{hard_bounces} of {handed} messages sent bounced permanently ({_percent(hard_bounces, handed)}), "
                    f"more than {self.hard_bounces} and {self.hard_bounce_percent:g}%: check the recipient list")
        if _exceeds(complaints, handed, self.complaints, self.complaint_percent):
            return (f"{complaints} of {handed} recipients marked the message as spam "
                    f"({_percent(complaints, handed)}), more than {self.complaints} and "
                    f"{self.complaint_percent:g}%")
        return None


def _exceeds(count: int, handed: int, most: int, percent: float) -> bool:
    return count > most and handed > 0 and count * 100 > percent * handed


def _percent(count: int, handed: int) -> str:
    return f"{100 * count / handed:.1f}%" if handed else "-"


class Campaigns(Protocol):
    def halt_campaign(self, campaign_id: int, job_id: int, reason: str, counts: common_pb2.OutcomeCounts) -> Any: ...


def check(database: Database, campaigns: Campaigns, thresholds: Thresholds,
          campaign_ids: list[int] | None = None) -> list[int]:
    """Halts the campaigns (of ``campaign_ids``, or every one) whose counts pass a threshold; returns them."""
    with database.session() as session:
        if campaign_ids is None:
            rows = session.execute(text(_CANDIDATES)).mappings().all()
        else:
            rows = session.execute(text(_CANDIDATES + " AND campaign_id = ANY(:ids)"),
                                   {"ids": campaign_ids}).mappings().all()
    halted = []
    for row in rows:
        reason = thresholds.reason(row["handed_since"], row["hard_since"], row["complaints_since"])
        if reason is None:
            continue
        try:
            campaigns.halt_campaign(row["campaign_id"], row["job_id"], reason, outcome_counts(row))
        except ServiceError as exc:
            log.warning("cannot halt the campaign yet", campaign_id=row["campaign_id"], error=exc.message)
            continue
        with database.unit_of_work() as session:
            session.execute(_MARK_HALTED, {"c": row["campaign_id"]})
        log.warning("campaign halted", campaign_id=row["campaign_id"], job_id=row["job_id"], reason=reason)
        HALTS.inc()
        halted.append(row["campaign_id"])
    return halted


def sweep_periodically(database: Database, campaigns: Campaigns, thresholds: Thresholds,
                       stopping: threading.Event) -> None:
    while not stopping.wait(SWEEP_SECONDS):
        try:
            check(database, campaigns, thresholds)
        except Exception:  # noqa: BLE001 - the loop must outlive a database hiccup
            log.exception("sweep of campaigns to halt failed")

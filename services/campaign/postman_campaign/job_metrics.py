"""``postman_jobs{channel, status}``: how many sends are waiting, running or stopped, per channel, for the
dashboard's campaign progress and for alerts on sends that never finish.

A collector reads the counts from ``jobs`` when Prometheus scrapes (one grouped query over the unfinished jobs,
which the partial indexes keep small), so the figure is the database's, shared by every campaign replica, not one
process's memory. Labels are bounded: three channels times the unfinished statuses, every combination exported (a
zero included) so a series never disappears between scrapes. Finished jobs (``LOGGED``) are not counted: they only
grow.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import text

from postman_campaign.statuses import UNFINISHED
from postman_shared.db import Database
from postman_shared.logging import get_logger

CHANNELS = ("EMAIL", "SMS", "TELEGRAM")
_UNFINISHED_SQL = ", ".join(f"'{status}'" for status in UNFINISHED)  # the enum's own values, never a request's
_COUNTS = text(
    "SELECT c.type, j.status, count(*) FROM jobs j JOIN campaigns c ON c.id = j.campaign_id "  # noqa: S608
    f"WHERE j.status IN ({_UNFINISHED_SQL}) GROUP BY c.type, j.status"
)

log = get_logger(component="job_metrics")


class JobsCollector(Collector):
    def __init__(self) -> None:
        self.database: Database | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("postman_jobs", "Campaign sends not yet finished, by channel and status "
                                   "(READY: scheduled; ENQUEUED, SENDING, SENT: running; STOPPED: stopped or halted)",
                                   labels=["channel", "status"])
        if self.database is None:
            return
        try:
            with self.database.session() as session:
                counts = {(channel, status): count for channel, status, count in session.execute(_COUNTS)}
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail the exporter; the gap shows on the panel
            log.warning("job counts unavailable for metrics", error=str(exc))
            return
        for channel in CHANNELS:
            for status in UNFINISHED:
                family.add_metric([channel.lower(), status], counts.get((channel, status), 0))
        yield family

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # collected lazily: nothing to describe before a database is attached


COLLECTOR = JobsCollector()
REGISTRY.register(COLLECTOR)


def report_jobs_of(database: Database) -> None:
    """Counts this database's jobs at every scrape of the process's metrics."""
    COLLECTOR.database = database

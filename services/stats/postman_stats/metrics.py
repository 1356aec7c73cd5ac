"""Prometheus metrics of the stats service (registered once per process, on first import)."""

from __future__ import annotations

from prometheus_client import Counter

RECEIPTS = Counter(
    "postman_stats_receipts_total",
    "Providers' reports about sent campaign messages that moved a message, by the status they moved it to "
    "(DELIVERED, OPENED, SOFT_BOUNCED, BOUNCED, COMPLAINT, ERROR)",
    ["status"],
)

HALTS = Counter(
    "postman_campaigns_halted_total",
    "Campaigns halted by themselves because their recipients bounced or complained past the thresholds",
)

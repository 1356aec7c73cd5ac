"""Prometheus metrics of the campaign service (registered once per process, on first import)."""

from __future__ import annotations

from prometheus_client import Counter

UNSUBSCRIBES = Counter(
    "postman_unsubscribes_total",
    "Recipients who unsubscribed from an owner's emails, by how (page, one-click, api, mailto)",
    ["via"],
)

SUPPRESSIONS = Counter(
    "postman_suppressions_added_total",
    "Entries added to the suppression list, by channel and reason (hard_bounce, complaint, unsubscribe, sms_stop, "
    "manual)",
    ["channel", "reason"],
)

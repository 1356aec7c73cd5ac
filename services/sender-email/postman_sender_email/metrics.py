"""Prometheus metrics of the sender-email service (registered once per process, on first import)."""

from __future__ import annotations

from prometheus_client import Counter

MESSAGES = Counter(
    "postman_email_messages_total",
    "Emails handed to the transport, by transport and outcome (SENT, ERROR, or RETRY: to be tried again later)",
    ["transport", "status"],
)

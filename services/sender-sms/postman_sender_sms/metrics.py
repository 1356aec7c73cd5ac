"""Prometheus metrics of the sender-sms service (registered once per process, on first import)."""

from __future__ import annotations

from prometheus_client import Counter

MESSAGES = Counter(
    "postman_sms_messages_total",
    "SMS handed to Twilio, by outcome (SENT or ERROR)",
    ["status"],
)

PROVIDER_RETRIES = Counter(
    "postman_sms_provider_retries_total",
    "Requests to Twilio tried again after a passing failure (429, 5xx, no connection)",
)

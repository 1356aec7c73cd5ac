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

TRANSACTIONAL_MESSAGES = Counter(
    "postman_sms_transactional_messages_total",
    "Transactional SMS handed to Twilio, by transport (twilio, or simulated: test API keys) and outcome (ACCEPTED, "
    "or ERROR: Twilio refused it)",
    ["transport", "status"],
)

RECEIPTS = Counter(
    "postman_sms_receipts_total",
    "Twilio status callbacks handled: delivered or error (a receipt for stats), ignored (not a final status), "
    "forged (Twilio's signature does not match), mismatched (another message's SID), waiting (a failure reported "
    "before its message was recorded, parked to mark it failed)",
    ["outcome"],
)

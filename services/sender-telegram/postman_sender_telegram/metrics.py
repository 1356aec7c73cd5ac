"""Prometheus metrics of the sender-telegram service (registered once per process, on first import)."""

from __future__ import annotations

from prometheus_client import Counter

MESSAGES = Counter(
    "postman_telegram_messages_total",
    "Telegram messages of campaigns handled, by outcome (SENT or ERROR)",
    ["status"],
)

PROVIDER_RETRIES = Counter(
    "postman_telegram_provider_retries_total",
    "sendMessage calls tried again after a passing failure, by reason (throttled: 429; unavailable: 5xx or no "
    "connection)",
    ["reason"],
)

UPDATES = Counter(
    "postman_telegram_updates_total",
    "Webhook updates of bots handled, by what they were (start, contact, updatenumber, help, ignored, dropped)",
    ["kind"],
)

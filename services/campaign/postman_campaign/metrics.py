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

PROTECTED_OPENS = Counter(
    "postman_protected_message_opens_total",
    "Attempts to open a password-protected message, by outcome (opened, wrong, locked, expired)",
    ["outcome"],
)

PROTECTED_EXPIRED = Counter(
    "postman_protected_messages_expired_total",
    "Password-protected messages whose ciphertext was erased at the end of the retention period",
)

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

CAMPAIGNS_REDACTED = Counter(
    "postman_campaigns_redacted_total",
    "Finished campaigns redacted at the end of CAMPAIGN_RETENTION_DAYS (recipients and outcomes deleted)",
)

PURGED_ROWS = Counter(
    "postman_purged_rows_total",
    "Rows of personal data deleted by the retention purge, by kind (recipients, message_outcomes, deliveries, "
    "transactional_emails, transactional_sms, email_deliveries_outside_campaigns, audit_events, sessions)",
    ["kind"],
)


def count_purged(report: object) -> None:
    """Adds one committed purge batch (a ``retention.PurgeReport``) to the counters."""
    for name, value in vars(report).items():
        if not value:
            continue
        if name == "campaigns_redacted":
            CAMPAIGNS_REDACTED.inc(value)
        else:
            PURGED_ROWS.labels(name).inc(value)

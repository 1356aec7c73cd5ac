"""Prometheus metrics of the sender-email service (registered once per process, on first import)."""

from __future__ import annotations

from prometheus_client import Counter

MESSAGES = Counter(
    "postman_email_messages_total",
    "Emails handed to the transport, by transport and outcome (SENT, ERROR, or RETRY: to be tried again later)",
    ["transport", "status"],
)

PRIORITY_MESSAGES = Counter(
    "postman_email_priority_messages_total",
    "Priority emails (one-time passwords) by transport and outcome (SENT, ERROR, or RETRY: tried again at once)",
    ["transport", "status"],
)

TEST_EMAIL_MESSAGES = Counter(
    "postman_email_test_messages_total",
    "Campaigns' test emails (email.test) by transport and outcome (SENT, ERROR, or RETRY: tried again at once); "
    "simulated ones (test API keys) under transport \"simulated\"",
    ["transport", "status"],
)

TRANSACTIONAL_MESSAGES = Counter(
    "postman_email_transactional_messages_total",
    "Transactional emails handed to the transport, by transport and outcome (ACCEPTED, REFUSED, UNAVAILABLE)",
    ["transport", "status"],
)

EVENTS = Counter(
    "postman_email_events_total",
    "Provider events about sent emails, by type and whether they moved a transactional email (applied, ignored)",
    ["event_type", "outcome"],
)

BOUNCE_REPORTS = Counter(
    "postman_email_bounce_reports_total",
    "Messages read from the bounce mailbox (BOUNCE_IMAP_URL), by kind (bounce, delay, complaint, unsubscribe, "
    "unknown) and outcome (applied, forged: not one of our return paths, unreadable: left for a person)",
    ["kind", "outcome"],
)

SUPPRESSED_MESSAGES = Counter(
    "postman_email_suppressed_messages_total",
    "Campaign emails not sent because the recipient is suppressed (BLACKLISTED, UNSUBSCRIBED) or their job was "
    "stopped (WITHHELD)",
    ["status"],
)

"""Where emails go: the ``EmailTransport`` seam and its implementations (development mailbox, SMTP, Amazon SES)."""

from postman_sender_email.transports.base import (
    ERROR,
    SENT,
    Email,
    EmailTransport,
    Outcome,
    campaign_of,
    envelope_recipients,
    log_ids,
)

__all__ = ["ERROR", "SENT", "Email", "EmailTransport", "Outcome", "campaign_of", "envelope_recipients", "log_ids"]

"""Where emails go: the ``EmailTransport`` seam and its implementations (outbox folder, SMTP, Amazon SES)."""

from postman_sender_email.transports.base import ERROR, SENT, EmailTransport, Outcome

__all__ = ["ERROR", "SENT", "EmailTransport", "Outcome"]

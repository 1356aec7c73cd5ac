"""What a transport is handed for a transactional email: more than a campaign message carries (copies, blind copies,
attachments, a classification header, whether SES may track opens), already checked by ``transactional``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attachment:
    file_name: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class TransactionalMail:
    message_id: str  # "tx-<id>": names the message in the Message-ID header, the outbox file and log lines
    to: str  # bare addresses from here on
    sender: str  # "Name <addr>" or "addr"
    subject: str
    body: str  # HTML
    reply_to: str | None = None
    cc: tuple[str, ...] = ()  # in the Cc header and the envelope
    bcc: tuple[str, ...] = ()  # in the envelope only, never in a header
    attachments: tuple[Attachment, ...] = ()
    classification: str | None = None  # X-Postman-Classification
    track_opens: bool = True  # SES: the configuration set that tracks opens, or the one that does not

    @property
    def envelope_recipients(self) -> tuple[str, ...]:
        """Every address the message goes to, the main recipient first, each once."""
        seen: dict[str, None] = {}
        for address in (self.to, *self.cc, *self.bcc):
            seen.setdefault(address, None)
        return tuple(seen)

"""The seam between the delivery use case and the mail provider."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeAlias

from postman_shared.messages import PriorityEmail, RenderedEmail

SENT = "SENT"
ERROR = "ERROR"

# What a transport sends: one message of a campaign, or an urgent email of no campaign (a one-time password).
Email: TypeAlias = RenderedEmail | PriorityEmail


def campaign_of(email: Email) -> int | None:
    return email.campaign_id if isinstance(email, RenderedEmail) else None


def log_ids(email: Email) -> dict[str, object]:
    """The ids that name a message in a log line (never its address or content)."""
    if isinstance(email, RenderedEmail):
        return {"message_id": email.message_id, "campaign_id": email.campaign_id}
    return {"message_id": email.message_id}


@dataclass(frozen=True)
class Outcome:
    """What the provider said about one message."""

    message_id: str  # the queue message's id: the recipient id of a campaign message
    status: str  # SENT | ERROR
    error_code: str | None = None
    reason: str | None = None
    provider_message_id: str | None = None
    transient: bool = False  # an ERROR for a passing reason (outage, throttling): worth another attempt later

    @classmethod
    def sent(cls, message_id: str, provider_message_id: str | None = None) -> "Outcome":
        return cls(message_id, SENT, provider_message_id=provider_message_id)

    @classmethod
    def error(cls, message_id: str, code: str, reason: str) -> "Outcome":
        return cls(message_id, ERROR, error_code=code[:64], reason=reason)

    @classmethod
    def unavailable(cls, message_id: str, code: str, reason: str) -> "Outcome":
        """The provider could not take the message now, even after the transport's own quick retries."""
        return cls(message_id, ERROR, error_code=code[:64], reason=reason, transient=True)


class EmailTransport(Protocol):
    name: str

    def send_batch(self, messages: Sequence[Email]) -> list[Outcome]:
        """Hands every message to the provider; returns one outcome per message, in the same order.

        Refusals and failures are ERROR outcomes, never exceptions: permanent ones from ``Outcome.error``, those
        worth another attempt later (the provider unreachable or throttling after a couple of quick retries) from
        ``Outcome.unavailable``.
        """
        ...

    def close(self) -> None:
        """Releases connections; the transport may not be used afterwards."""
        ...

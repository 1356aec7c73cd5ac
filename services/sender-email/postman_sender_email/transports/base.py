"""The seam between the delivery use case and the mail provider."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from postman_shared.messages import RenderedEmail

SENT = "SENT"
ERROR = "ERROR"


@dataclass(frozen=True)
class Outcome:
    """What the provider said about one message."""

    recipient_id: int
    status: str  # SENT | ERROR
    error_code: str | None = None
    reason: str | None = None
    provider_message_id: str | None = None
    transient: bool = False  # an ERROR for a passing reason (outage, throttling): worth another attempt later

    @classmethod
    def sent(cls, recipient_id: int, provider_message_id: str | None = None) -> "Outcome":
        return cls(recipient_id, SENT, provider_message_id=provider_message_id)

    @classmethod
    def error(cls, recipient_id: int, code: str, reason: str) -> "Outcome":
        return cls(recipient_id, ERROR, error_code=code[:64], reason=reason)

    @classmethod
    def unavailable(cls, recipient_id: int, code: str, reason: str) -> "Outcome":
        """The provider could not take the message now, even after the transport's own quick retries."""
        return cls(recipient_id, ERROR, error_code=code[:64], reason=reason, transient=True)


class EmailTransport(Protocol):
    name: str

    def send_batch(self, messages: Sequence[RenderedEmail]) -> list[Outcome]:
        """Hands every message to the provider; returns one outcome per message, in the same order.

        Refusals and failures are ERROR outcomes, never exceptions: permanent ones from ``Outcome.error``, those
        worth another attempt later (the provider unreachable or throttling after a couple of quick retries) from
        ``Outcome.unavailable``.
        """
        ...

    def close(self) -> None:
        """Releases connections; the transport may not be used afterwards."""
        ...

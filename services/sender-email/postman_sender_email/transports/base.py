"""The seam between the delivery use case and the mail provider."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeAlias

from postman_sender_email.transactional_mail import TransactionalMail
from postman_shared.delivery_log import ERROR, SENT, Outcome
from postman_shared.messages import PriorityEmail, RenderedEmail

__all__ = ["ERROR", "SENT", "Email", "EmailTransport", "Outcome", "Proceed", "campaign_of", "envelope_recipients",
           "log_ids", "may_send"]

# What a transport sends: one message of a campaign, an urgent email of no campaign (a one-time password), or a
# transactional email (which may have copies and attachments).
Email: TypeAlias = RenderedEmail | PriorityEmail | TransactionalMail


# Asked right before a campaign message is handed to the provider: False withholds it (its job was stopped).
Proceed: TypeAlias = Callable[[RenderedEmail], bool]


def may_send(email: Email, proceed: Proceed | None) -> bool:
    """Whether ``email`` may be handed over now: only a campaign message can be withheld."""
    return proceed is None or not isinstance(email, RenderedEmail) or proceed(email)


def campaign_of(email: Email) -> int | None:
    return email.campaign_id if isinstance(email, RenderedEmail) else None


def envelope_recipients(email: Email, to_address: str) -> tuple[str, ...]:
    """Every address the message goes to, ``to_address`` (the bare address of ``email.to``) first."""
    if isinstance(email, TransactionalMail):
        return (to_address, *(a for a in email.envelope_recipients if a != email.to))
    return (to_address,)


def log_ids(email: Email) -> dict[str, object]:
    """The ids that name a message in a log line (never its address or content)."""
    if isinstance(email, RenderedEmail):
        return {"message_id": email.message_id, "campaign_id": email.campaign_id}
    return {"message_id": email.message_id}


class EmailTransport(Protocol):
    name: str

    def send_batch(self, messages: Sequence[Email], proceed: Proceed | None = None) -> list[Outcome]:
        """Hands every message to the provider; returns one outcome per message, in the same order.

        Refusals and failures are ERROR outcomes, never exceptions: permanent ones from ``Outcome.error``, those
        worth another attempt later (the provider unreachable or throttling after a couple of quick retries) from
        ``Outcome.unavailable``. A campaign message for which ``proceed`` says False right before it would be
        handed over is ``Outcome.withheld``.
        """
        ...

    def close(self) -> None:
        """Releases connections; the transport may not be used afterwards."""
        ...

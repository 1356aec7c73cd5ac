"""The queue entrypoints: decode ``email.send`` and ``email.priority`` deliveries and hand them to their use case."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from postman_sender_email.delivery import BatchReport
from postman_sender_email.retry import OutageBackoff, attempt_of
from postman_sender_email.transports import EmailTransport
from postman_shared.broker import BatchConsumer, Delivery
from postman_shared.broker.batches import chunks, decode_each
from postman_shared.logging import get_logger
from postman_shared.messages import PriorityEmail, RenderedEmail

log = get_logger(component="consumer")

Deliver = Callable[[Sequence[RenderedEmail], Mapping[str, int]], BatchReport]
DeliverPriority = Callable[[Sequence[PriorityEmail]], object]
# email_deliveries.message_id is 64 characters.
_LONGEST_MESSAGE_ID = 64


def decode(batch: list[Delivery]) -> tuple[list[RenderedEmail], dict[str, int], list[Delivery]]:
    """The well-formed emails of a batch (a delivery carries one, or a rendered batch of them), the attempt each
    message id is on, and the deliveries that are not well-formed (to be dead-lettered)."""
    decoded, malformed = decode_each(batch, RenderedEmail.from_dict, "rendered email")
    emails: list[RenderedEmail] = []
    attempts: dict[str, int] = {}
    for delivery, email in decoded:
        emails.append(email)
        # The same message twice in a batch (a redelivery next to its retry): the later attempt counts.
        attempts[email.message_id] = max(attempts.get(email.message_id, 0), attempt_of(delivery.headers))
    return emails, attempts, malformed


def handler(deliver: Deliver, backoff: OutageBackoff | None = None,
            chunk: int = 0) -> Callable[[list[Delivery]], list[Delivery]]:
    """``chunk`` (SENDER_BATCH_SIZE): the emails are delivered, recorded and announced that many at a time, however
    many a delivery carries (a rendered batch holds RENDERED_PER_MESSAGE); 0: all at once."""
    def handle(batch: list[Delivery]) -> list[Delivery]:
        emails, attempts, malformed = decode(batch)
        for part in chunks(emails, chunk):
            report = deliver(part, attempts)
            if backoff is not None:
                backoff.after_batch(report.provider_unavailable)
        return malformed

    return handle


def decode_priority(batch: list[Delivery]) -> tuple[list[PriorityEmail], list[Delivery]]:
    """The well-formed priority emails of a batch, and the deliveries that are not (to be dead-lettered)."""
    emails: list[PriorityEmail] = []
    malformed: list[Delivery] = []
    for delivery in batch:
        try:
            emails.append(_well_formed(PriorityEmail.from_dict(delivery.json())))
        except (ValueError, KeyError, TypeError) as exc:
            # The problems raised here name a field, never its value (the body holds a password).
            log.error("malformed priority email", message_id=delivery.message_id,
                      problem=f"{type(exc).__name__}: {exc}")
            malformed.append(delivery)
    return emails, malformed


def _well_formed(email: PriorityEmail) -> PriorityEmail:
    if not 0 < len(email.message_id) <= _LONGEST_MESSAGE_ID:
        raise ValueError(f"message_id must have 1 to {_LONGEST_MESSAGE_ID} characters")
    for name in ("to", "sender", "subject", "body"):
        if not isinstance(getattr(email, name), str):
            raise TypeError(f"{name} must be a string")
    if email.reply_to is not None and not isinstance(email.reply_to, str):
        raise TypeError("reply_to must be a string or null")
    return email


def priority_handler(deliver: DeliverPriority) -> Callable[[list[Delivery]], list[Delivery]]:
    def handle(batch: list[Delivery]) -> list[Delivery]:
        emails, malformed = decode_priority(batch)
        if emails:
            deliver(emails)
        return malformed

    return handle


class EmailConsumer(BatchConsumer):
    """A BatchConsumer that closes its own transport's connections once it has finished its last batch."""

    def __init__(self, transport: EmailTransport, amqp_url: str, queue: str,
                 handle: Callable[[list[Delivery]], list[Delivery]], **options: Any) -> None:
        super().__init__(amqp_url, queue, handle, **options)
        self._transport = transport

    def run(self) -> None:
        try:
            super().run()
        finally:
            self._transport.close()

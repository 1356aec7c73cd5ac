"""The queue entrypoints: decode ``email.send`` and ``email.priority`` deliveries and hand them to their use case."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from postman_sender_email.delivery import BatchReport
from postman_sender_email.send_retry_policy import OutageBackoff
from postman_sender_email.transports import EmailTransport
from postman_shared.broker import BatchConsumer, Delivery
from postman_shared.broker.batches import decode_each
from postman_shared.messages import PriorityEmail, RenderedEmail
from postman_shared.sender_pipeline import rendered_handler

Deliver = Callable[[Sequence[RenderedEmail], Mapping[str, int]], BatchReport]
DeliverPriority = Callable[[Sequence[PriorityEmail]], object]
# email_deliveries.message_id is 64 characters.
_LONGEST_MESSAGE_ID = 64


def handler(deliver: Deliver, backoff: OutageBackoff | None = None,
            chunk: int = 0) -> Callable[[list[Delivery]], list[Delivery]]:
    """``chunk`` (SENDER_BATCH_SIZE): the emails are delivered, recorded and announced that many at a time, however
    many a delivery carries (a rendered batch holds RENDERED_PER_MESSAGE); 0: all at once. After each part the
    ``backoff`` hears whether the provider was unavailable for all of it."""
    def deliver_part(emails: Sequence[RenderedEmail], attempts: Mapping[str, int]) -> None:
        report = deliver(emails, attempts)
        if backoff is not None:
            backoff.after_batch(report.provider_unavailable)

    return rendered_handler(RenderedEmail.from_dict, "rendered email", deliver_part, chunk)


def decode_priority(batch: list[Delivery]) -> tuple[list[PriorityEmail], list[Delivery]]:
    """The well-formed priority emails of a batch (one a delivery), and the deliveries that are not (to be
    dead-lettered). The problems logged name a field, never its value (the body holds a password)."""
    decoded, malformed = decode_each(batch, lambda body: _well_formed(PriorityEmail.from_dict(body)),
                                     "priority email", batches=False)
    return [email for _, email in decoded], malformed


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

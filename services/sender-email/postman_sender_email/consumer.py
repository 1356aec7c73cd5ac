"""The queue entrypoint: decodes ``email.send`` deliveries and hands them to the delivery use case."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from postman_sender_email.delivery import BatchReport
from postman_sender_email.retry import OutageBackoff, attempt_of
from postman_sender_email.transports import EmailTransport
from postman_shared.broker import BatchConsumer, Delivery
from postman_shared.logging import get_logger
from postman_shared.messages import RenderedEmail

log = get_logger(component="consumer")

Deliver = Callable[[Sequence[RenderedEmail], Mapping[str, int]], BatchReport]


def decode(batch: list[Delivery]) -> tuple[list[RenderedEmail], dict[str, int], list[Delivery]]:
    """The well-formed emails of a batch, the attempt each message id is on, and the deliveries that are not
    well-formed (to be dead-lettered)."""
    emails: list[RenderedEmail] = []
    attempts: dict[str, int] = {}
    malformed: list[Delivery] = []
    for delivery in batch:
        try:
            email = RenderedEmail.from_dict(delivery.json())
        except (ValueError, KeyError, TypeError) as exc:
            log.error("malformed rendered email", message_id=delivery.message_id,
                      problem=f"{type(exc).__name__}: {exc}")
            malformed.append(delivery)
            continue
        emails.append(email)
        # The same message twice in a batch (a redelivery next to its retry): the later attempt counts.
        attempts[email.message_id] = max(attempts.get(email.message_id, 0), attempt_of(delivery.headers))
    return emails, attempts, malformed


def handler(deliver: Deliver, backoff: OutageBackoff | None = None) -> Callable[[list[Delivery]], list[Delivery]]:
    def handle(batch: list[Delivery]) -> list[Delivery]:
        emails, attempts, malformed = decode(batch)
        if emails:
            report = deliver(emails, attempts)
            if backoff is not None:
                backoff.after_batch(report.provider_unavailable)
        return malformed

    return handle


class EmailSendConsumer(BatchConsumer):
    """A BatchConsumer that closes the transport's connections once it has finished its last batch."""

    def __init__(self, transport: EmailTransport, amqp_url: str, queue: str,
                 handle: Callable[[list[Delivery]], list[Delivery]], **options: Any) -> None:
        super().__init__(amqp_url, queue, handle, **options)
        self._transport = transport

    def run(self) -> None:
        try:
            super().run()
        finally:
            self._transport.close()

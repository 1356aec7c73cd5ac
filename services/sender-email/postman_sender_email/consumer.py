"""The queue entrypoint: decodes ``email.send`` deliveries and hands them to the delivery use case."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from postman_sender_email.transports import EmailTransport
from postman_shared.broker import BatchConsumer, Delivery
from postman_shared.logging import get_logger
from postman_shared.messages import RenderedEmail

log = get_logger(component="consumer")


def decode(batch: list[Delivery]) -> tuple[list[RenderedEmail], list[Delivery]]:
    """The well-formed emails of a batch, and the deliveries that are not (to be dead-lettered)."""
    emails: list[RenderedEmail] = []
    malformed: list[Delivery] = []
    for delivery in batch:
        try:
            emails.append(RenderedEmail.from_dict(delivery.json()))
        except (ValueError, KeyError, TypeError) as exc:
            log.error("malformed rendered email", message_id=delivery.message_id,
                      problem=f"{type(exc).__name__}: {exc}")
            malformed.append(delivery)
    return emails, malformed


def handler(deliver: Callable[[Sequence[RenderedEmail]], object]) -> Callable[[list[Delivery]], list[Delivery]]:
    def handle(batch: list[Delivery]) -> list[Delivery]:
        emails, malformed = decode(batch)
        if emails:
            deliver(emails)
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

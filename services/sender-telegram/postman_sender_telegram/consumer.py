"""The ``telegram.send`` entrypoint: decode deliveries and hand them to the delivery use case."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from postman_shared.broker import Delivery
from postman_shared.logging import get_logger
from postman_shared.messages import RenderedTelegram

log = get_logger(component="consumer")


def decode(batch: list[Delivery]) -> tuple[list[RenderedTelegram], list[Delivery]]:
    """The well-formed messages of a batch, and the deliveries that are not (to be dead-lettered)."""
    messages: list[RenderedTelegram] = []
    malformed: list[Delivery] = []
    for delivery in batch:
        try:
            messages.append(RenderedTelegram.from_dict(delivery.json()))
        except (ValueError, KeyError, TypeError) as exc:
            # The problem names a field, never the message's text.
            log.error("malformed rendered telegram message", message_id=delivery.message_id,
                      problem=f"{type(exc).__name__}: {exc}")
            malformed.append(delivery)
    return messages, malformed


def handler(deliver: Callable[[Sequence[RenderedTelegram]], object]) -> Callable[[list[Delivery]], list[Delivery]]:
    def handle(batch: list[Delivery]) -> list[Delivery]:
        messages, malformed = decode(batch)
        if messages:
            deliver(messages)
        return malformed

    return handle

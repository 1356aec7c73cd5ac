"""The queue entrypoint: decode ``sms.send`` deliveries and hand them to the delivery use case."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from postman_shared.broker import Delivery
from postman_shared.broker.batches import decode_each
from postman_shared.messages import RenderedSms


def decode(batch: list[Delivery]) -> tuple[list[RenderedSms], list[Delivery]]:
    """The well-formed messages of a batch (a delivery carries one, or a rendered batch of them), and the deliveries
    that are not well-formed (to be dead-lettered)."""
    decoded, malformed = decode_each(batch, RenderedSms.from_dict, "rendered sms")
    return [message for _, message in decoded], malformed


def handler(deliver: Callable[[Sequence[RenderedSms]], object]) -> Callable[[list[Delivery]], list[Delivery]]:
    def handle(batch: list[Delivery]) -> list[Delivery]:
        messages, malformed = decode(batch)
        if messages:
            deliver(messages)
        return malformed

    return handle

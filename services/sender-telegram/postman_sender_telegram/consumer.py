"""The ``telegram.send`` entrypoint: decode deliveries and hand them to the delivery use case."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from postman_shared.broker import Delivery
from postman_shared.broker.batches import chunks, decode_each
from postman_shared.messages import RenderedTelegram


def decode(batch: list[Delivery]) -> tuple[list[RenderedTelegram], list[Delivery]]:
    """The well-formed messages of a batch (a delivery carries one, or a rendered batch of them), and the deliveries
    that are not well-formed (to be dead-lettered)."""
    decoded, malformed = decode_each(batch, RenderedTelegram.from_dict, "rendered telegram message")
    return [message for _, message in decoded], malformed


def handler(deliver: Callable[[Sequence[RenderedTelegram]], object],
            chunk: int = 0) -> Callable[[list[Delivery]], list[Delivery]]:
    """``chunk`` (SENDER_BATCH_SIZE): the messages are delivered, recorded and announced that many at a time, however
    many a delivery carries (a rendered batch holds RENDERED_PER_MESSAGE); 0: all at once."""
    def handle(batch: list[Delivery]) -> list[Delivery]:
        messages, malformed = decode(batch)
        for part in chunks(messages, chunk):
            deliver(part)
        return malformed

    return handle

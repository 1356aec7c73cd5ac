"""The ``telegram.send`` entrypoint: decode deliveries (``postman_shared.sender_pipeline``) and hand them to the
delivery use case."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from postman_shared.broker import Delivery
from postman_shared.messages import RenderedTelegram
from postman_shared.sender_pipeline import rendered_handler


def handler(deliver: Callable[[Sequence[RenderedTelegram]], object],
            chunk: int = 0) -> Callable[[list[Delivery]], list[Delivery]]:
    """``chunk`` (SENDER_BATCH_SIZE): the messages are delivered, recorded and announced that many at a time."""
    return rendered_handler(RenderedTelegram.from_dict, "rendered telegram message",
                            lambda part, attempts: deliver(part), chunk)

"""The ``sms.send`` entrypoint: decode deliveries (``postman_shared.sender_pipeline``) and hand them to the delivery
use case."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from postman_shared.broker import Delivery
from postman_shared.messages import RenderedSms
from postman_shared.sender_pipeline import rendered_handler


def handler(deliver: Callable[[Sequence[RenderedSms]], object],
            chunk: int = 0) -> Callable[[list[Delivery]], list[Delivery]]:
    """``chunk`` (SENDER_BATCH_SIZE): the messages are delivered, recorded and announced that many at a time."""
    return rendered_handler(RenderedSms.from_dict, "rendered sms", lambda part, attempts: deliver(part), chunk)

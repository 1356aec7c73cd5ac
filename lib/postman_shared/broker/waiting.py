"""Attempts through a wait queue (``topology.WAIT_QUEUES``): a message that cannot be handled yet is published to
the wait queue with the next attempt number in a header and its own TTL, and RabbitMQ dead-letters it back to the
work queue when the TTL runs out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from postman_shared.broker.publisher import OutgoingMessage

ATTEMPT_HEADER = "x-postman-attempt"  # which attempt a delivery is; absent on the first


def with_attempt(message: OutgoingMessage, attempt: int, expiration_ms: int) -> OutgoingMessage:
    """``message`` for a wait queue: it comes back after ``expiration_ms`` as attempt number ``attempt``."""
    return OutgoingMessage(message.routing_key, message.body, message.message_id,
                           headers={ATTEMPT_HEADER: attempt}, expiration_ms=expiration_ms)


def attempt_of(headers: Mapping[str, Any]) -> int:
    """The attempt number a delivery carries; 1 for a first delivery or a header that is not a positive number."""
    value = headers.get(ATTEMPT_HEADER)
    try:
        attempt = int(value) if value is not None else 1
    except (TypeError, ValueError):
        return 1
    return max(attempt, 1)


def growing_wait_ms(attempt: int, cap_ms: int) -> int:
    """How long to wait after the ``attempt``-th try: 1 s, 4 s, 16 s, ... up to ``cap_ms``."""
    return min(1000 * 4 ** (max(attempt, 1) - 1), cap_ms)

"""Several messages of one queue carried by one AMQP message: the renderer's rendered messages to the senders.

Every AMQP message costs a publish and its confirm, a delivery and an ack, in pika on both sides and in RabbitMQ,
whatever its size: per recipient, more CPU than rendering the message. The renderer therefore publishes a job's
messages ``RENDERED_PER_MESSAGE`` at a time, as ``{"kind": "batch", "campaign_id", "job_id", "messages": [...]}``
with the count in the ``x-postman-messages`` header; a sender's consumer counts a batch by that header (its batch size
and the renderer's window stay in messages), and reads single messages too (retries, messages put back on stop, a
renderer of the previous release).

The unit a failing handler settles alone is the AMQP message: a rendered batch that fails alone is retried, and
dead-lettered after the delivery limit, as a whole (its messages already sent are recognised by the sender's delivery
log and not sent again when it is replayed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from postman_shared.broker.publisher import OutgoingMessage
from postman_shared.logging import get_logger

if TYPE_CHECKING:
    from postman_shared.broker.consumer import Delivery

log = get_logger(component="consumer")
T = TypeVar("T")

BATCH_KIND = "batch"
COUNT_HEADER = "x-postman-messages"
# Rendered messages per AMQP message (RENDERED_PER_MESSAGE): 4 make a sender batch (SENDER_BATCH_SIZE 200), 40 the
# render window (2,000). 1: one AMQP message per rendered message, as before.
RENDERED_PER_MESSAGE = 50


def batched(messages: Sequence[OutgoingMessage], size: int = RENDERED_PER_MESSAGE) -> list[OutgoingMessage]:
    """The messages as batches of at most ``size``, each of consecutive messages of one queue with the same headers,
    priority and expiry (a single message stays as it is)."""
    groups: list[list[OutgoingMessage]] = []
    for message in messages:
        last = groups[-1] if groups else None
        if last is not None and len(last) < size and _same_kind(last[0], message):
            last.append(message)
        else:
            groups.append([message])
    return [group[0] if len(group) == 1 else _batch(group) for group in groups]


def unbatched(body: Any) -> list[Any]:
    """The message bodies an AMQP message carries: a batch's, or the message itself."""
    if not isinstance(body, Mapping) or body.get("kind") != BATCH_KIND:
        return [body]
    inner = body.get("messages")
    if not isinstance(inner, list) or not inner or not all(isinstance(message, dict) for message in inner):
        raise TypeError("a batch's messages must be a non-empty list of objects")
    return inner


def decode_each(batch: Sequence[Delivery], parse: Callable[[Any], T], what: str, batches: bool = True,
                unpack: Callable[[Any], list[Any]] = unbatched) -> tuple[list[tuple[Delivery, T]], list[Delivery]]:
    """Every well-formed message the batch's deliveries carry, with its delivery, and the deliveries that carry a
    malformed one (to be dead-lettered for a person to look at; the well-formed messages of a rendered batch are
    handed on all the same). ``what`` names the message in the error log, which names a field, never a value.
    ``batches`` False: a queue whose producers publish one message per delivery (no rendered batches; the log line
    has no position). ``unpack``: how a delivery's body holds several messages, if not as a rendered batch (the
    senders' batches of delivery events: ``messages.inner_events``)."""
    decoded: list[tuple[Delivery, T]] = []
    malformed: list[Delivery] = []
    for delivery in batch:
        try:
            bodies = unpack(delivery.json()) if batches else [delivery.json()]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error(f"malformed {what}", message_id=delivery.message_id, problem=f"{type(exc).__name__}: {exc}")
            malformed.append(delivery)
            continue
        bad = False
        for position, body in enumerate(bodies):
            try:
                decoded.append((delivery, parse(body)))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                bad = True
                where = {"position": position} if batches else {}
                log.error(f"malformed {what}", message_id=delivery.message_id, **where,
                          problem=f"{type(exc).__name__}: {exc}")
        if bad:
            malformed.append(delivery)
    return decoded, malformed


def rendered_prefetch(messages: int, per_message: int = RENDERED_PER_MESSAGE) -> int:
    """The prefetch, in deliveries, of a consumer of rendered batches that should hold about ``messages`` messages
    unacknowledged (SENDER_PREFETCH): full batches, at least two of them."""
    return max(2, -(-messages // max(1, per_message)))


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` in consecutive parts of at most ``size`` (all in one part when ``size`` is 0); none when empty."""
    if not items:
        return []
    if size <= 0:
        return [items]
    return [items[start:start + size] for start in range(0, len(items), size)]


def message_count(headers: Mapping[str, Any]) -> int:
    """How many messages a delivery carries, by its header (1 for a single message or a header that is not one)."""
    count = headers.get(COUNT_HEADER, 1)
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1


def _same_kind(first: OutgoingMessage, message: OutgoingMessage) -> bool:
    return (message.routing_key == first.routing_key and isinstance(message.body, dict)
            and isinstance(first.body, dict) and message.headers == first.headers
            and message.priority == first.priority and message.expiration_ms == first.expiration_ms)


def _batch(group: list[OutgoingMessage]) -> OutgoingMessage:
    first = group[0]
    bodies = [message.body for message in group]
    body: dict[str, Any] = {"kind": BATCH_KIND}
    for key in ("campaign_id", "job_id"):  # the batch's correlation headers, when its messages share them
        values = {b.get(key) for b in bodies if isinstance(b, dict)}
        if len(values) == 1:
            body[key] = values.pop()
    body["messages"] = bodies
    return OutgoingMessage(first.routing_key, body, f"batch-{first.message_id}-{len(group)}",
                           headers={**first.headers, COUNT_HEADER: len(group)}, priority=first.priority,
                           expiration_ms=first.expiration_ms)

"""How senders announce outcomes to stats: a batch's delivery events as few queue messages as its campaign jobs.

One message per recipient cost a publish, a confirm, a delivery and an ack each, in pika and in RabbitMQ: most of
a message's CPU after its own sending. A sender's batch now goes out as one message per campaign job
(``messages.event_batch_bodies``), and stats reads both shapes (``messages.inner_events``), so events published by a
sender of the previous release are still recorded during a rolling upgrade.
"""

from __future__ import annotations

from collections.abc import Sequence

from postman_shared.broker.publisher import OutgoingMessage
from postman_shared.broker.topology import DELIVERY_EVENTS
from postman_shared.messages import DeliveryEvent, event_batch_bodies


def delivery_event_messages(events: Sequence[DeliveryEvent]) -> list[OutgoingMessage]:
    """The events as DELIVERY_EVENTS messages, one per campaign job of the batch."""
    return [OutgoingMessage(DELIVERY_EVENTS, body, message_id) for message_id, body in event_batch_bodies(events)]

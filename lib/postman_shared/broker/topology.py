"""Exchanges and queues, named once.

Every work queue is a durable quorum queue with a delivery limit, so a message that keeps failing is moved to the
dead-letter queue instead of looping forever. Routing keys equal queue names.
"""

from __future__ import annotations

import pika
from pika.adapters.blocking_connection import BlockingChannel

EXCHANGE = "postman"
DEAD_LETTER_EXCHANGE = "postman.dead"
DEAD_LETTER_QUEUE = "postman.dead-letters"

CAMPAIGN_SEND = "campaign.send"  # a send job was committed: campaign -> renderer
EMAIL_SEND = "email.send"  # one rendered email: renderer -> sender-email
DELIVERY_EVENTS = "delivery.events"  # a message's outcome, or a job fully rendered: senders, renderer -> stats

# Which service consumes each work queue. A test fails if a declared queue has no consumer here.
QUEUE_CONSUMERS: dict[str, str] = {
    CAMPAIGN_SEND: "renderer",
    EMAIL_SEND: "sender-email",
    DELIVERY_EVENTS: "stats",
}


def work_queue_arguments(delivery_limit: int) -> dict[str, object]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
    }


def declare_topology(channel: BlockingChannel, delivery_limit: int = 20) -> None:
    """Declares every exchange, queue and binding. Idempotent; each service calls it at start."""
    channel.exchange_declare(EXCHANGE, exchange_type="direct", durable=True)
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="fanout", durable=True)
    channel.queue_declare(DEAD_LETTER_QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE)
    for queue in QUEUE_CONSUMERS:
        channel.queue_declare(queue, durable=True, arguments=work_queue_arguments(delivery_limit))
        channel.queue_bind(queue, EXCHANGE, routing_key=queue)


def declare_from_url(amqp_url: str, delivery_limit: int = 20) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        declare_topology(connection.channel(), delivery_limit)
    finally:
        connection.close()

"""Exchanges and queues, named once.

Every work queue is a durable quorum queue with a delivery limit, so a message that keeps failing is moved to the
dead-letter queue instead of looping forever. Routing keys equal queue names.

A wait queue holds messages that are to be tried again later. It has no consumer: each message carries its own TTL
(the publisher sets ``expiration``) and, once it expires, is dead-lettered back to exchange ``postman`` with the
routing key of the work queue it drains to. The delay is per message rather than an ``x-message-ttl`` queue argument
so that a queue's arguments never depend on a setting: every service declares the same topology, and changing a
delay needs no queue to be deleted. (Quorum queues honour message TTL from RabbitMQ 3.10.)
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
EMAIL_PRIORITY = "email.priority"  # one urgent email (one-time passwords): auth -> sender-email, never behind campaigns
# A campaign's test email to an address its officer chose: campaign -> sender-email. Its own queue and consumer, so
# however many an officer asks for, no one-time password waits behind them.
EMAIL_TEST = "email.test"
SMS_SEND = "sms.send"  # one rendered SMS: renderer -> sender-sms
SMS_STATUS = "sms.status"  # a Twilio status callback, URL signature checked: gateway -> sender-sms
TELEGRAM_SEND = "telegram.send"  # one rendered Telegram message: renderer -> sender-telegram
TELEGRAM_UPDATES = "telegram.updates"  # a bot's webhook update, checked by the gateway: gateway -> sender-telegram
EMAIL_EVENTS = "email.events"  # an SES event (delivery, bounce, open...), SNS-signed: gateway -> sender-email
EMAIL_SEND_RETRY = "email.send.retry"  # an email the provider could not take yet, waiting: sender-email -> email.send
EMAIL_EVENTS_RETRY = "email.events.retry"  # an email event that matched no email yet, waiting: -> email.events
SMS_STATUS_RETRY = "sms.status.retry"  # a failure report whose message is not recorded yet, waiting: -> sms.status
OWNER_NOTICES = "owner.notices"  # an email to a campaign's owner (finished, halted, digest): campaign -> auth

# Which service consumes each work queue. A test fails if a declared queue has no consumer here.
QUEUE_CONSUMERS: dict[str, str] = {
    CAMPAIGN_SEND: "renderer",
    EMAIL_SEND: "sender-email",
    EMAIL_PRIORITY: "sender-email",
    EMAIL_TEST: "sender-email",
    EMAIL_EVENTS: "sender-email",
    SMS_SEND: "sender-sms",
    SMS_STATUS: "sender-sms",
    TELEGRAM_SEND: "sender-telegram",
    TELEGRAM_UPDATES: "sender-telegram",
    DELIVERY_EVENTS: "stats",
    OWNER_NOTICES: "auth",
}

# Which work queue each wait queue drains into. Wait queues have no consumer by design; a test checks that each one
# drains into a queue of QUEUE_CONSUMERS.
WAIT_QUEUES: dict[str, str] = {
    EMAIL_SEND_RETRY: EMAIL_SEND,
    EMAIL_EVENTS_RETRY: EMAIL_EVENTS,
    SMS_STATUS_RETRY: SMS_STATUS,
}


def work_queue_arguments(delivery_limit: int) -> dict[str, object]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
    }


def wait_queue_arguments(drains_to: str) -> dict[str, object]:
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": EXCHANGE,
        "x-dead-letter-routing-key": drains_to,
        # An expired message leaves the wait queue only once the work queue has it (RabbitMQ 3.10+), so a retry
        # is never lost on its way back.
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
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
    for queue, drains_to in WAIT_QUEUES.items():
        channel.queue_declare(queue, durable=True, arguments=wait_queue_arguments(drains_to))
        channel.queue_bind(queue, EXCHANGE, routing_key=queue)


def declare_from_url(amqp_url: str, delivery_limit: int = 20) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        declare_topology(connection.channel(), delivery_limit)
    finally:
        connection.close()

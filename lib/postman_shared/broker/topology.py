"""Exchanges and queues, named once.

Every work queue is a durable quorum queue; a message that keeps failing is moved to the dead-letter queue instead
of looping forever. Routing keys equal queue names.

A wait queue holds messages that are to be tried again later. It has no consumer: each message carries its own TTL
(the publisher sets ``expiration``) and, once it expires, is dead-lettered back to exchange ``postman`` with the
routing key of the work queue it drains to. (Quorum queues honour message TTL from RabbitMQ 3.10.)

The delivery limit and the dead-lettering are RabbitMQ policies (``policies.py``), set by ``postmanctl setup``, not
queue arguments: a queue's arguments are fixed when it is created, so an argument that depends on a setting
(``x-delivery-limit``) made every service's redeclare fail with PRECONDITION_FAILED once the setting changed. The
services declare each queue with ``x-queue-type`` alone, which never changes. A queue created by an older release
still carries its old arguments; a redeclare of it is refused, so it is left as it is (the declaration is tried on a
channel of its own) until `postmanctl setup` recreates it (docs/runbooks/upgrade-queues-to-policies.md).
"""

from __future__ import annotations

from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from postman_shared.logging import get_logger

log = get_logger(component="topology")

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
# A send job whose channel's queue is full (flow control), waiting its turn: renderer -> campaign.send
CAMPAIGN_SEND_WAIT = "campaign.send.wait"
OWNER_NOTICES = "owner.notices"  # an email to a campaign's owner (finished, halted, digest): campaign -> auth
# An event for a user's own systems (transactional status, campaign sent/halted/finished), through the outbox of the
# service that recorded it: campaign, sender-email, sender-sms -> stats, which POSTs it to the user's webhook.
CLIENT_WEBHOOKS = "client.webhooks"
CLIENT_WEBHOOKS_RETRY = "client.webhooks.retry"  # a delivery that failed, waiting its backoff: stats -> client.webhooks

# Which service consumes each work queue. A test fails if a declared queue has no consumer here, and
# tests/e2e/test_queue_consumers.py fails if, with every service started, one has no running consumer of that service.
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
    CLIENT_WEBHOOKS: "stats",
}

# Which work queue each wait queue drains into. Wait queues have no consumer by design; a test checks that each one
# drains into a queue of QUEUE_CONSUMERS.
WAIT_QUEUES: dict[str, str] = {
    EMAIL_SEND_RETRY: EMAIL_SEND,
    EMAIL_EVENTS_RETRY: EMAIL_EVENTS,
    SMS_STATUS_RETRY: SMS_STATUS,
    CAMPAIGN_SEND_WAIT: CAMPAIGN_SEND,
    CLIENT_WEBHOOKS_RETRY: CLIENT_WEBHOOKS,
}


# The only queue argument: a queue's type cannot be a policy. Everything else is in policies.py.
QUEUE_ARGUMENTS: dict[str, object] = {"x-queue-type": "quorum"}


def legacy_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments of an existing queue that an older release set and policies now own."""
    return {key: value for key, value in arguments.items() if key not in QUEUE_ARGUMENTS}


def _is_precondition_failed(error: pika.exceptions.ChannelClosedByBroker) -> bool:
    return error.reply_code == 406


class _QueueDeclarer:
    """Declares queues on a channel of its own, so that a refused redeclare (a queue with an older release's
    arguments) closes only that channel, never the caller's."""

    def __init__(self, connection: pika.BlockingConnection) -> None:
        self._connection = connection
        self._channel: BlockingChannel | None = None
        self.kept: list[str] = []

    def declare(self, queue: str) -> None:
        if self._channel is None or not self._channel.is_open:
            self._channel = self._connection.channel()
        try:
            self._channel.queue_declare(queue, durable=True, arguments=QUEUE_ARGUMENTS)
        except pika.exceptions.ChannelClosedByBroker as error:
            if not _is_precondition_failed(error):
                raise
            self.kept.append(queue)
            log.warning("queue keeps the arguments of an older release until `postmanctl setup` recreates it",
                        queue=queue, error=error.reply_text)

    def close(self) -> None:
        if self._channel is not None and self._channel.is_open:
            self._channel.close()


def declare_topology(channel: BlockingChannel) -> list[str]:
    """Declares every exchange, queue and binding. Idempotent; each service calls it at start. Returns the queues
    that exist with an older release's arguments and were left as they are."""
    channel.exchange_declare(EXCHANGE, exchange_type="direct", durable=True)
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="fanout", durable=True)
    declarer = _QueueDeclarer(channel.connection)
    try:
        for queue in (DEAD_LETTER_QUEUE, *QUEUE_CONSUMERS, *WAIT_QUEUES):
            declarer.declare(queue)
    finally:
        declarer.close()
    channel.queue_bind(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE)
    for queue in (*QUEUE_CONSUMERS, *WAIT_QUEUES):
        channel.queue_bind(queue, EXCHANGE, routing_key=queue)
    return declarer.kept


def declare_from_url(amqp_url: str) -> list[str]:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return declare_topology(connection.channel())
    finally:
        connection.close()

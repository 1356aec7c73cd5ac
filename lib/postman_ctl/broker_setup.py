"""The broker part of `postmanctl setup`: the queue policies, the topology, and the upgrade of queues that an older
release created with arguments.

Order matters: the policies go first, so a queue created by the declaration right after has its delivery limit and
dead-lettering from its first message.

The upgrade (docs/runbooks/upgrade-queues-to-policies.md). RabbitMQ refuses to redeclare a queue with other
arguments than it has, and for a delivery limit set both ways it uses the smaller one, so a queue created with
``x-delivery-limit`` would keep that ceiling whatever the policy says. Such a queue is recreated, but only while no
consumer is attached: deleting a queue drops the messages its consumers hold unacknowledged. Its messages are kept
meanwhile in a holding queue, which takes the queue's routing key (so publishers never see an unroutable message)
and its old arguments (so an expiring retry still goes back to its work queue): messages move to the holding queue,
the queue is recreated, the routing key comes back, and the messages move back. A message published in the instant
both are bound is delivered twice, as after any redelivery (consumers recognise a repeated message id). A run cut
short leaves the holding queue, which the next run empties. A queue with consumers is left as it is (it keeps
working; the services tolerate its old arguments), with a line saying which consumers to stop.
"""

from __future__ import annotations

from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from postman_shared.broker.management import ManagementApi
from postman_shared.broker.policies import DEAD_LETTER_RETENTION_DAYS, apply_policies, desired_policies
from postman_shared.broker.topology import (
    EXCHANGE,
    QUEUE_ARGUMENTS,
    QUEUE_CONSUMERS,
    WAIT_QUEUES,
    declare_topology,
    legacy_arguments,
)

HOLDING_PREFIX = "postman.migrating."


def holding_queue(queue: str) -> str:
    return HOLDING_PREFIX + queue


def prepare_broker(amqp_url: str, management_url: str, delivery_limit: int,
                   dead_letter_days: int = DEAD_LETTER_RETENTION_DAYS) -> list[str]:
    """Policies applied, topology declared, queues with an older release's arguments recreated where safe.
    Returns what it did, for printing. Raises ManagementApiError (what to check) when the API cannot be used."""
    api = ManagementApi.from_urls(management_url, amqp_url)
    done = apply_policies(api, desired_policies(delivery_limit, dead_letter_days))
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        kept = declare_topology(connection.channel())
        done.append("RabbitMQ topology declared")
        for queue in kept:
            done.append(_upgrade(connection, api, queue))
        for queue in (*QUEUE_CONSUMERS, *WAIT_QUEUES):
            if queue not in kept:
                done.extend(_finish_interrupted(connection, queue))
    finally:
        if connection.is_open:
            connection.close()
    return done


def _counts(connection: BlockingConnection, queue: str) -> tuple[int, int] | None:
    """(ready messages, consumers) of a queue, None when it does not exist. A channel of its own: a passive declare
    of a missing queue closes its channel."""
    channel = connection.channel()
    try:
        ok = channel.queue_declare(queue, passive=True).method
    except pika.exceptions.ChannelClosedByBroker as error:
        if error.reply_code == 404:
            return None
        raise
    channel.close()
    return ok.message_count, ok.consumer_count


def _upgrade(connection: BlockingConnection, api: ManagementApi, queue: str) -> str:
    record = api.queue(queue) or {}
    arguments: dict[str, Any] = dict(record.get("arguments") or {})
    old = ", ".join(f"{key}={value}" for key, value in sorted(legacy_arguments(arguments).items()))
    counts = _counts(connection, queue)
    if counts is None:  # gone since the declaration (someone deleted it): declare it as it should be
        connection.channel().queue_declare(queue, durable=True, arguments=QUEUE_ARGUMENTS)
        return f"{queue}: created"
    if counts[1]:
        consumer = QUEUE_CONSUMERS.get(queue, "its consumer")
        return (f"{queue} NOT upgraded: it still has the arguments of an older release ({old}) and {counts[1]} "
                f"consumer(s) attached. It keeps working, but a delivery limit above its x-delivery-limit has no "
                f"effect on it. Stop {consumer} (scale it to 0), run `postmanctl setup` again, then start it "
                "(docs/runbooks/upgrade-queues-to-policies.md)")
    holding = holding_queue(queue)
    channel = connection.channel()
    channel.confirm_delivery()
    # Same arguments as the old queue: while messages wait here, they expire and dead-letter as they did there.
    channel.queue_declare(holding, durable=True, arguments=arguments)
    channel.queue_bind(holding, EXCHANGE, routing_key=queue)
    channel.queue_unbind(queue, EXCHANGE, routing_key=queue)
    moved = _move(channel, queue, holding)
    counts = _counts(connection, queue)
    recreated = counts == (0, 0)
    if recreated:
        channel.queue_delete(queue)
        channel.queue_declare(queue, durable=True, arguments=QUEUE_ARGUMENTS)
    channel.queue_bind(queue, EXCHANGE, routing_key=queue)
    channel.queue_unbind(holding, EXCHANGE, routing_key=queue)
    _move(channel, holding, queue)
    channel.queue_delete(holding)
    channel.close()
    if not recreated:
        return (f"{queue} NOT upgraded: a consumer attached while its messages were moved; it keeps its old "
                f"arguments ({old}). Stop {QUEUE_CONSUMERS.get(queue, 'its consumer')} and run `postmanctl setup` "
                "again")
    return f"{queue}: recreated without the arguments of an older release ({old}); {moved} message(s) kept"


def _finish_interrupted(connection: BlockingConnection, queue: str) -> list[str]:
    """Empties and deletes a holding queue that a run cut short left behind."""
    holding = holding_queue(queue)
    if _counts(connection, holding) is None:
        return []
    channel = connection.channel()
    channel.confirm_delivery()
    channel.queue_unbind(holding, EXCHANGE, routing_key=queue)
    moved = _move(channel, holding, queue)
    channel.queue_delete(holding)
    channel.close()
    return [f"{queue}: moved {moved} message(s) back from {holding}, left by an interrupted upgrade"]


def _move(channel: BlockingChannel, source: str, target: str) -> int:
    """Moves every ready message of ``source`` to ``target``: published (confirmed) with the same properties and body
    before it is acked, so a failure in between leaves it in both, never in neither."""
    moved = 0
    while True:
        method, properties, body = channel.basic_get(source)
        if method is None:
            return moved
        channel.basic_publish("", target, body, properties, mandatory=True)
        channel.basic_ack(method.delivery_tag)
        moved += 1

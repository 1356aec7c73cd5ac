"""``postmanctl dlq``: what is in the dead-letter queue, and putting it back or dropping it, one work queue at a time.

Every work queue dead-letters into the one queue ``postman.dead-letters`` (a message its consumer rejected as
malformed, or one past ``QUEUE_DELIVERY_LIMIT``); RabbitMQ records where each came from in ``x-first-death-queue``.
The command reads the dead letters with ``basic_get`` and acknowledges only those it replayed or purged: the others
go back to the dead-letter queue when its connection closes, so ``list`` changes nothing. ``replay`` republishes a
message to its work queue (same body, message id and headers, less RabbitMQ's death records) with a publisher confirm
before the dead letter is acked, so a message is never lost on the way (at worst, if the command dies between the two,
it is in both; every consumer recognises a redelivered message id). Exit status 0 done, 2 refused (reason on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError

from postman_shared.broker.topology import DEAD_LETTER_QUEUE, EXCHANGE, QUEUE_CONSUMERS
from postman_shared.settings import Settings

# RabbitMQ's own records of a message's deaths and deliveries: not carried over to a replayed message.
_DEATH_HEADERS = ("x-death", "x-first-death-queue", "x-first-death-reason", "x-first-death-exchange",
                  "x-last-death-queue", "x-last-death-reason", "x-last-death-exchange", "x-delivery-count")


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("dlq", help="the dead-letter queue: list, replay or purge one work queue's messages")
    actions = parser.add_subparsers(dest="dlq_command", required=True)
    listing = actions.add_parser("list", help="the dead letters of a work queue (every queue's without one)")
    listing.add_argument("queue", nargs="?", help="the work queue they came from, e.g. email.send")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=_list)
    replay = actions.add_parser("replay", help="publish a work queue's dead letters to it again")
    replay.add_argument("queue")
    replay.set_defaults(run=_replay)
    purge = actions.add_parser("purge", help="drop a work queue's dead letters for good")
    purge.add_argument("queue")
    purge.set_defaults(run=_purge)


def origin_queue(properties: pika.BasicProperties) -> str:
    headers = properties.headers or {}
    origin = headers.get("x-first-death-queue")
    if not origin and headers.get("x-death"):
        origin = headers["x-death"][0].get("queue")
    return origin.decode() if isinstance(origin, bytes) else str(origin or "")


def _dead_letters(channel: BlockingChannel) -> Iterator[tuple[int, pika.BasicProperties, bytes]]:
    """Every dead letter, unacknowledged (each one is fetched once: the unacked ones are not handed out again)."""
    while True:
        method, properties, body = channel.basic_get(DEAD_LETTER_QUEUE, auto_ack=False)
        if method is None:
            return
        yield method.delivery_tag, properties, body


def _refuse(message: str) -> int:
    print(f"postmanctl: {message}", file=sys.stderr)
    return 2


def _checked_queue(queue: str | None) -> str | None:
    if queue is not None and queue not in QUEUE_CONSUMERS:
        raise ValueError(f"{queue!r} is not a work queue; one of: {', '.join(sorted(QUEUE_CONSUMERS))}")
    return queue


def _with_channel(args: argparse.Namespace, settings: Settings, work: Any) -> int:
    try:
        queue = _checked_queue(args.queue)
    except ValueError as exc:
        return _refuse(str(exc))
    try:
        connection = pika.BlockingConnection(pika.URLParameters(settings.amqp_url))
    except AMQPError as exc:
        return _refuse(f"cannot reach RabbitMQ at AMQP_URL ({type(exc).__name__}); is it running? "
                       "Try: postmanctl check")
    try:
        return int(work(connection.channel(), queue, args))
    except AMQPError as exc:
        return _refuse(f"RabbitMQ failed mid-way ({type(exc).__name__}: {exc}); what was not acknowledged is still "
                       "in the dead-letter queue, run the command again")
    finally:
        if connection.is_open:
            connection.close()  # returns every dead letter not acked to the queue


def _list(args: argparse.Namespace, settings: Settings) -> int:
    def work(channel: BlockingChannel, queue: str | None, args: argparse.Namespace) -> int:
        shown = 0
        for _tag, properties, body in _dead_letters(channel):
            origin = origin_queue(properties)
            if queue is not None and origin != queue:
                continue
            shown += 1
            reason = (properties.headers or {}).get("x-first-death-reason", "")
            reason = reason.decode() if isinstance(reason, bytes) else str(reason)
            if args.json:
                print(json.dumps({"queue": origin, "message_id": properties.message_id, "reason": reason,
                                  "bytes": len(body)}))
            else:
                print(f"{origin}  {properties.message_id or '(no id)'}  {reason}  {len(body)} bytes")
        print(f"postmanctl: {shown} dead letter(s)" + (f" from {queue}" if queue else ""), file=sys.stderr)
        return 0

    return _with_channel(args, settings, work)


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    def work(channel: BlockingChannel, queue: str, args: argparse.Namespace) -> int:
        publisher = channel.connection.channel()
        publisher.confirm_delivery()
        replayed = 0
        for tag, properties, body in _dead_letters(channel):
            if origin_queue(properties) != queue:
                continue
            headers = {k: v for k, v in (properties.headers or {}).items() if k not in _DEATH_HEADERS}
            properties.headers = headers
            # Raises (nothing acked) if the broker does not confirm or cannot route it.
            publisher.basic_publish(EXCHANGE, queue, body, properties, mandatory=True)
            channel.basic_ack(tag)
            replayed += 1
        print(f"postmanctl: {replayed} dead letter(s) replayed to {queue}", file=sys.stderr)
        return 0

    return _with_channel(args, settings, work)


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    def work(channel: BlockingChannel, queue: str, args: argparse.Namespace) -> int:
        purged = 0
        for tag, properties, _body in _dead_letters(channel):
            if origin_queue(properties) == queue:
                channel.basic_ack(tag)
                purged += 1
        print(f"postmanctl: {purged} dead letter(s) from {queue} purged", file=sys.stderr)
        return 0

    return _with_channel(args, settings, work)

"""A consumer that hands messages to its handler in batches and acknowledges only after the handler returns.

The handler's work must be durable when it returns (committed, or published with confirms); only then are the
messages acked, with one ``multiple=True`` ack per batch: the happy path is one handler call and one ack.

A handler that raises does not get its whole batch requeued: one poison message would then drag its batch-mates
through the queue's delivery limit (policy ``delivery-limit`` counts every requeue) and into the dead-letter queue.
The failed batch is settled message by message instead: each message is handed to the handler alone, in the batch's
order; one that succeeds is acked, one the handler rejects is dead-lettered, one that raises again is requeued alone,
so only it moves towards the delivery limit. Its message id is remembered (a bounded set of suspects): when it comes
back in a later batch it is handled alone first and the rest of that batch goes through in one call, so a poison
message costs one slow batch, not one per delivery. If the first ``SYSTEMIC_AFTER`` messages all fail alone too, the
failure is not any one message's (the database or a service is down): the rest of the batch is requeued together and
the consumer pauses, rather than failing every message one call at a time. A failed batch of one message (the
renderer's, one job each) is already alone: it is requeued, not handed over again at once.

Handing a subset of a batch to the handler again is safe because every handler is idempotent per message, which
their docstrings state and their tests check: the senders look up the outcomes already recorded for the batch's
message ids and do not send those again (``delivery.py`` in each sender; a message sent by the failed call but not
recorded is sent at most once more, as it was with a whole-batch requeue); stats records outcomes with
``ON CONFLICT DO NOTHING`` and moves counters by what was inserted; the renderer resumes a job from its progress row;
auth records a notice's audit event once. No handler's result depends on which other messages share its batch, and
the messages are retried in their original order, so one call per message does what one call per batch would have.
Each good message of a failed batch is handled at most once more.

While a batch is handled, the correlation ids its messages all share (``correlation.AMQP_HEADERS``: request id,
campaign, job) are bound in the log context, and unbound after it: a batch of one campaign's messages logs that
campaign. With tracing on, each handler call is a ``consume`` span: a child of its messages' trace when they share
one (a batch of one always does), else linked to each. The cost per message is a few header look-ups per batch.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pika
import structlog
from opentelemetry import trace
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError
from prometheus_client import Counter, Histogram

from postman_shared import correlation, tracing
from postman_shared.broker.batches import message_count
from postman_shared.broker.topology import declare_topology
from postman_shared.logging import get_logger, process_service

log = get_logger(component="consumer")

HANDLED = Counter("postman_queue_messages_total", "Messages consumed, by queue and what became of them",
                  ["queue", "outcome"])
# Buckets from a one-time password (milliseconds) to a rate-limited batch: 200 SMS at a campaign's 10 a second take
# 20 s, a Telegram batch at 1 a second (a slow bot) over a minute, and a renderer's whole job (one batch) minutes.
# prometheus_client's defaults stop at 10 s, which would put every SMS and Telegram batch in +Inf.
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
BATCH_SECONDS = Histogram("postman_queue_batch_seconds", "Time a handler spent on one batch", ["queue"],
                          buckets=BATCH_BUCKETS)


@dataclass
class Delivery:
    delivery_tag: int
    message_id: str
    redelivered: bool
    body: bytes
    headers: dict[str, Any]

    def json(self) -> Any:
        """The body decoded (orjson: strict UTF-8 JSON; its error is a ValueError, as json's)."""
        return orjson.loads(self.body)


# A handler returns the deliveries it could not process and that must be dead-lettered (malformed messages);
# everything else in the batch is acknowledged.
BatchHandler = Callable[[list[Delivery]], Iterable[Delivery] | None]

# A failed batch whose first few messages also fail alone failed for a reason of no one message (an outage).
SYSTEMIC_AFTER = 3
MAX_SPAN_LINKS = 128  # a batch of many traces links this many of them


def shared_ids(batch: list[Delivery]) -> dict[str, Any]:
    """The correlation ids (by log key) that every delivery of the batch carries with the same value."""
    first = batch[0].headers
    raw = {header: first[header] for header in correlation.AMQP_HEADERS if header in first}
    if not raw:
        return {}
    expected = list(raw.items())
    for delivery in batch:
        get = delivery.headers.get
        for header, value in expected:
            if get(header) != value:
                raw.pop(header, None)
        if len(raw) < len(expected):
            expected = list(raw.items())
            if not expected:
                return {}
    return correlation.from_amqp_headers(raw)


def _consume_span(service: str, queue: str, batch: list[Delivery]) -> contextlib.AbstractContextManager[Any]:
    """A span for one handler call. Its messages all of one trace (a batch of one; a renderer's publishes for one
    job): a child in that trace, linked to the other publishes. Of several traces, or some untraced: a trace of its
    own, linked to each of theirs (up to ``MAX_SPAN_LINKS``)."""
    parents: dict[str, None] = {}
    untraced = overflow = False
    for delivery in batch:
        traceparent = delivery.headers.get(tracing.TRACEPARENT)
        if traceparent is None:
            untraced = True
        elif len(parents) < MAX_SPAN_LINKS:
            parents[tracing.text(traceparent)] = None
        elif tracing.text(traceparent) not in parents:
            overflow = True
    attributes: dict[str, str | int] = {"messaging.system": "rabbitmq", "messaging.destination.name": queue,
                                        "messaging.batch.message_count": len(batch)}
    contexts = [c for c in (tracing.span_context_of({tracing.TRACEPARENT: p}) for p in parents) if c is not None]
    tracer = tracing.tracer(service)
    name = f"consume {queue}"
    if contexts and not untraced and not overflow and len({c.trace_id for c in contexts}) == 1:
        parent = trace.set_span_in_context(trace.NonRecordingSpan(contexts[0]))
        return tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.CONSUMER,
                                            links=[trace.Link(c) for c in contexts[1:]], attributes=attributes)
    return tracer.start_as_current_span(name, context=trace.set_span_in_context(trace.INVALID_SPAN),
                                        kind=trace.SpanKind.CONSUMER, links=[trace.Link(c) for c in contexts],
                                        attributes=attributes)


class Suspects:
    """Message ids that failed when handled alone, most recent last, bounded so a flood of failures cannot grow it."""

    def __init__(self, capacity: int = 1000) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, message_id: str) -> None:
        if not message_id:
            return
        self._ids[message_id] = None
        self._ids.move_to_end(message_id)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)

    def discard(self, message_id: str) -> None:
        self._ids.pop(message_id, None)

    def __contains__(self, message_id: object) -> bool:
        return bool(message_id) and message_id in self._ids


class BatchConsumer:
    def __init__(
        self,
        amqp_url: str,
        queue: str,
        handler: BatchHandler,
        batch_size: int = 200,
        prefetch: int = 500,
        max_wait: float = 0.05,
        count_messages: bool = False,
    ) -> None:
        self._params = pika.URLParameters(amqp_url)
        self._queue = queue
        self._handler = handler
        self._batch_size = batch_size
        # count_messages: a batch is counted in the messages its deliveries carry (a rendered batch is one delivery
        # of RENDERED_PER_MESSAGE messages), and ``prefetch`` is in deliveries as given.
        self._count_messages = count_messages
        self._prefetch = prefetch if count_messages else max(prefetch, batch_size)
        self._max_wait = max_wait
        self._suspects = Suspects()
        self._stopping = threading.Event()
        self._connection: pika.BlockingConnection | None = None
        self._side_channel: BlockingChannel | None = None  # queue_depth's passive declares
        self._service = process_service()
        self.ready = threading.Event()

    @property
    def queue(self) -> str:
        return self._queue

    def stop(self) -> None:
        """Asks the consumer to finish its current batch and return from ``run``. Safe from any thread."""
        self._stopping.set()

    def keepalive(self) -> None:
        """Lets a long-running handler service heartbeats. Call only from the consumer's own thread.

        A connection lost meanwhile does not interrupt the handler: a sender in the middle of a batch has handed
        messages to its provider, and must still record them, or their redelivery would send them again. The batch
        then fails to be acked, and its redelivery finds them recorded (``make chaos`` saw a whole SMS batch sent
        twice after one broker fault)."""
        connection = self._connection
        if connection is None or not connection.is_open:
            return
        try:
            connection.process_data_events(0)
        except AMQPError as exc:
            log.warning("broker connection lost during a batch; finishing the batch, it will be redelivered",
                        queue=self._queue, error=str(exc) or repr(exc))

    def queue_depth(self, queue: str) -> int:
        """How many messages ``queue`` holds ready (a passive declare on this consumer's connection). For flow
        control by a handler. Call only from the consumer's own thread."""
        connection = self._connection
        if connection is None or not connection.is_open:
            raise AMQPError("the consumer is not connected")
        if self._side_channel is None or not self._side_channel.is_open:
            self._side_channel = connection.channel()
        return int(self._side_channel.queue_declare(queue, passive=True).method.message_count)

    def pause(self, seconds: float) -> bool:
        """Waits up to ``seconds``, returning early once ``stop`` is called; heartbeats are serviced meanwhile.
        True when the whole wait passed, False when the consumer is stopping.

        For a handler that should slow down (its downstream is failing). Call only from the consumer's own thread.
        """
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            self._stopping.wait(min(left, 1.0))
            self.keepalive()
        return False

    def run(self) -> None:
        """Consumes until ``stop`` is called, reconnecting with backoff when the broker goes away."""
        # The service the thread works for (bound by the runtime that started it), for this consumer's spans.
        self._service = structlog.contextvars.get_contextvars().get("service") or process_service()
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                self._consume()
                backoff = 0.5
            except AMQPError as exc:
                self.ready.clear()
                log.warning("broker connection lost, reconnecting", queue=self._queue, error=str(exc) or repr(exc))
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        log.info("consumer stopped", queue=self._queue)

    def _consume(self) -> None:
        connection = pika.BlockingConnection(self._params)
        self._connection = connection
        try:
            channel = connection.channel()
            declare_topology(channel)
            channel.basic_qos(prefetch_count=self._prefetch)
            self.ready.set()
            log.info("consuming", queue=self._queue, prefetch=self._prefetch, batch_size=self._batch_size)
            batch: list[Delivery] = []
            size = 0  # deliveries, or with count_messages the messages they carry
            deadline = 0.0
            for method, properties, body in channel.consume(self._queue, inactivity_timeout=self._max_wait):
                if method is not None:
                    if not batch:
                        deadline = time.monotonic() + self._max_wait
                    headers = dict(properties.headers or {})
                    batch.append(
                        Delivery(
                            delivery_tag=method.delivery_tag,
                            message_id=properties.message_id or "",
                            redelivered=bool(method.redelivered),
                            body=body,
                            headers=headers,
                        )
                    )
                    size += message_count(headers) if self._count_messages else 1
                if batch and (size >= self._batch_size or method is None or time.monotonic() >= deadline):
                    self._dispatch(channel, batch)
                    batch = []
                    size = 0
                if self._stopping.is_set() and not batch:
                    break
            channel.cancel()
        finally:
            self._connection = None
            self._side_channel = None
            if connection.is_open:
                connection.close()

    def _dispatch(self, channel: BlockingChannel, batch: list[Delivery]) -> None:
        suspects = [d for d in batch if d.message_id in self._suspects]
        if suspects:
            # Settled first, one by one, so the multiple ack of the rest covers none of them.
            took = [self._handle_alone(channel, delivery) for delivery in suspects]
            suspect_tags = {d.delivery_tag for d in suspects}
            batch = [d for d in batch if d.delivery_tag not in suspect_tags]
            if not batch:
                if not any(took):
                    self._stopping.wait(1.0)  # as after any failed batch: no hot loop through the delivery limit
                return
        if len(batch) == 1:
            # Already alone (the renderer's batches hold one job): a failure is that message's, not retried at once.
            if not self._handle_alone(channel, batch[0]):
                self._stopping.wait(1.0)
            return
        with self._correlated(batch):
            try:
                with BATCH_SECONDS.labels(self._queue).time():
                    rejected = list(self._handler(batch) or [])
            except Exception:
                log.exception("batch failed, settling its messages one by one", queue=self._queue, size=len(batch))
                failed = True
            else:
                failed = False
        if failed:
            self._settle_one_by_one(channel, batch)
            return
        HANDLED.labels(self._queue, "acked").inc(len(batch) - len(rejected))
        if rejected:
            HANDLED.labels(self._queue, "dead_lettered").inc(len(rejected))
        for delivery in rejected:
            log.error("dead-lettering a message", queue=self._queue, message_id=delivery.message_id)
            channel.basic_nack(delivery.delivery_tag, requeue=False)
        rejected_tags = {d.delivery_tag for d in rejected}
        accepted = [d.delivery_tag for d in batch if d.delivery_tag not in rejected_tags]
        if accepted:
            # Rejected tags are already settled, so one multiple ack settles exactly the accepted ones.
            channel.basic_ack(max(accepted), multiple=True)

    def _settle_one_by_one(self, channel: BlockingChannel, batch: list[Delivery]) -> None:
        """Hands each message of a failed batch to the handler alone: acks, dead-letters or requeues it by itself."""
        succeeded = 0
        for position, delivery in enumerate(batch):
            if self._stopping.is_set():
                # Stopping: the untried rest goes back on the queue (for this or another replica) at once, rather
                # than one message at a time against a store or service that may be going away too.
                log.warning("stopping, requeueing the rest of a failed batch", queue=self._queue,
                            size=len(batch) - position)
                channel.basic_nack(batch[-1].delivery_tag, multiple=True, requeue=True)
                HANDLED.labels(self._queue, "requeued").inc(len(batch) - position)
                break
            if succeeded == 0 and position >= SYSTEMIC_AFTER:
                # Every message tried so far is settled, and those after the batch have higher tags: this multiple
                # nack requeues exactly the untried rest.
                log.error("messages fail alone too, requeueing the rest of the batch", queue=self._queue,
                          size=len(batch) - position)
                channel.basic_nack(batch[-1].delivery_tag, multiple=True, requeue=True)
                HANDLED.labels(self._queue, "requeued").inc(len(batch) - position)
                break
            self.keepalive()
            if self._handle_alone(channel, delivery):
                succeeded += 1
        if succeeded == 0:
            # Nothing went through: give the failing store or service a moment before the next batch.
            self._stopping.wait(1.0)

    @contextlib.contextmanager
    def _correlated(self, batch: list[Delivery]) -> Iterator[None]:
        """The batch's shared correlation ids in the log context, and with tracing on its span, for the block."""
        with correlation.bound(**shared_ids(batch)):
            if not tracing.enabled():
                yield
                return
            with _consume_span(self._service, self._queue, batch):
                yield

    def _handle_alone(self, channel: BlockingChannel, delivery: Delivery) -> bool:
        """Settles one message by its own outcome; true if the handler took it (acked or dead-lettered)."""
        with self._correlated([delivery]):
            return self._settle_alone(channel, delivery)

    def _settle_alone(self, channel: BlockingChannel, delivery: Delivery) -> bool:
        try:
            with BATCH_SECONDS.labels(self._queue).time():
                rejected = list(self._handler([delivery]) or [])
        except Exception:
            log.exception("message failed alone, requeueing it", queue=self._queue,
                          message_id=delivery.message_id, delivery_count=delivery.headers.get("x-delivery-count", 0))
            self._suspects.add(delivery.message_id)
            channel.basic_nack(delivery.delivery_tag, requeue=True)
            HANDLED.labels(self._queue, "requeued").inc()
            return False
        self._suspects.discard(delivery.message_id)
        if rejected:
            log.error("dead-lettering a message", queue=self._queue, message_id=delivery.message_id)
            channel.basic_nack(delivery.delivery_tag, requeue=False)
            HANDLED.labels(self._queue, "dead_lettered").inc()
        else:
            channel.basic_ack(delivery.delivery_tag)
            HANDLED.labels(self._queue, "acked").inc()
        return True

"""A consumer that hands messages to its handler in batches and acknowledges only after the handler returns.

The handler's work must be durable when it returns (committed, or published with confirms); only then are the
messages acked, with one ``multiple=True`` ack per batch. A handler that raises gets the whole batch requeued; the
queue's delivery limit dead-letters a message that keeps failing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError
from prometheus_client import Counter, Histogram

from postman_shared.broker.topology import declare_topology
from postman_shared.logging import get_logger

log = get_logger(component="consumer")

HANDLED = Counter("postman_queue_messages_total", "Messages consumed, by queue and what became of them",
                  ["queue", "outcome"])
BATCH_SECONDS = Histogram("postman_queue_batch_seconds", "Time a handler spent on one batch", ["queue"])


@dataclass
class Delivery:
    delivery_tag: int
    message_id: str
    redelivered: bool
    body: bytes
    headers: dict[str, Any]

    def json(self) -> Any:
        return json.loads(self.body)


# A handler returns the deliveries it could not process and that must be dead-lettered (malformed messages);
# everything else in the batch is acknowledged.
BatchHandler = Callable[[list[Delivery]], Iterable[Delivery] | None]


class BatchConsumer:
    def __init__(
        self,
        amqp_url: str,
        queue: str,
        handler: BatchHandler,
        batch_size: int = 200,
        prefetch: int = 500,
        max_wait: float = 0.05,
        delivery_limit: int = 20,
    ) -> None:
        self._params = pika.URLParameters(amqp_url)
        self._queue = queue
        self._handler = handler
        self._batch_size = batch_size
        self._prefetch = max(prefetch, batch_size)
        self._max_wait = max_wait
        self._delivery_limit = delivery_limit
        self._stopping = threading.Event()
        self._connection: pika.BlockingConnection | None = None
        self.ready = threading.Event()

    def stop(self) -> None:
        """Asks the consumer to finish its current batch and return from ``run``. Safe from any thread."""
        self._stopping.set()

    def keepalive(self) -> None:
        """Lets a long-running handler service heartbeats. Call only from the consumer's own thread."""
        if self._connection is not None and self._connection.is_open:
            self._connection.process_data_events(0)

    def pause(self, seconds: float) -> None:
        """Waits up to ``seconds``, returning early once ``stop`` is called; heartbeats are serviced meanwhile.

        For a handler that should slow down (its downstream is failing). Call only from the consumer's own thread.
        """
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._stopping.wait(min(left, 1.0))
            self.keepalive()

    def run(self) -> None:
        """Consumes until ``stop`` is called, reconnecting with backoff when the broker goes away."""
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
            declare_topology(channel, self._delivery_limit)
            channel.basic_qos(prefetch_count=self._prefetch)
            self.ready.set()
            log.info("consuming", queue=self._queue, prefetch=self._prefetch, batch_size=self._batch_size)
            batch: list[Delivery] = []
            deadline = 0.0
            for method, properties, body in channel.consume(self._queue, inactivity_timeout=self._max_wait):
                if method is not None:
                    if not batch:
                        deadline = time.monotonic() + self._max_wait
                    batch.append(
                        Delivery(
                            delivery_tag=method.delivery_tag,
                            message_id=properties.message_id or "",
                            redelivered=bool(method.redelivered),
                            body=body,
                            headers=dict(properties.headers or {}),
                        )
                    )
                if batch and (len(batch) >= self._batch_size or method is None or time.monotonic() >= deadline):
                    self._dispatch(channel, batch)
                    batch = []
                if self._stopping.is_set() and not batch:
                    break
            channel.cancel()
        finally:
            self._connection = None
            if connection.is_open:
                connection.close()

    def _dispatch(self, channel: BlockingChannel, batch: list[Delivery]) -> None:
        try:
            with BATCH_SECONDS.labels(self._queue).time():
                rejected = list(self._handler(batch) or [])
        except Exception:
            log.exception("batch failed, requeueing", queue=self._queue, size=len(batch))
            channel.basic_nack(batch[-1].delivery_tag, multiple=True, requeue=True)
            HANDLED.labels(self._queue, "requeued").inc(len(batch))
            self._stopping.wait(1.0)
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

"""A publisher with asynchronous publisher confirms, waited for once per batch.

pika's BlockingChannel waits for a confirm after every message (about 20x slower here), so the publisher runs a
SelectConnection on its own I/O thread: a batch is handed to that thread, every message is published at once, and
the caller waits until the broker has confirmed all of them (or one is nacked or returned unroutable).

Each message carries the publishing context's correlation ids in its headers (``correlation.AMQP_HEADERS``: the
request id, and the campaign and job of the work in hand, or of the message's own body when it names them), and with
tracing on the trace context of one ``publish`` span per call. The headers common to a batch are built once per call;
per message that is one dict merge.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pika
import structlog
from opentelemetry import trace
from pika.channel import Channel
from pika.spec import Basic, BasicProperties
from prometheus_client import Counter

from postman_shared import correlation, tracing
from postman_shared.broker.topology import EXCHANGE
from postman_shared.logging import get_logger

log = get_logger(component="publisher")

PUBLISHED = Counter("postman_published_messages_total", "Messages published and confirmed by the broker",
                    ["routing_key"])


class PublishError(RuntimeError):
    """The broker did not confirm every message of a batch."""


@dataclass(frozen=True)
class OutgoingMessage:
    routing_key: str
    body: dict[str, Any] | bytes
    message_id: str
    headers: dict[str, Any] = field(default_factory=dict)
    priority: int | None = None
    expiration_ms: int | None = None  # per-message TTL: how long it may wait in a queue (wait queues use it)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        # orjson: the same compact UTF-8 JSON as json.dumps(separators=(",", ":"), ensure_ascii=False), several
        # times faster on a rendered email (issue 15: encoding was a sixth of the renderer's publishing).
        return orjson.dumps(self.body, option=orjson.OPT_NON_STR_KEYS)  # int keys as strings, as json does


_BODY_IDS = (("campaign_id", "x-postman-campaign-id"), ("job_id", "x-postman-job-id"))


def _headers(message: OutgoingMessage, common: dict[str, Any]) -> dict[str, Any]:
    """The message's own headers over the batch's correlation headers, with the campaign and job its body names."""
    headers = dict(common)
    if isinstance(message.body, dict):
        for key, header in _BODY_IDS:
            value = message.body.get(key)
            if value and isinstance(value, (int, str)) and not isinstance(value, bool):
                headers[header] = value
    if message.headers:
        headers.update(message.headers)
    return headers


class _Batch:
    def __init__(self, size: int) -> None:
        self.remaining = size
        self.error: str | None = None
        self.done = threading.Event()
        if size == 0:
            self.done.set()

    def confirm(self, count: int = 1) -> None:
        self.remaining -= count
        if self.remaining <= 0:
            self.done.set()

    def fail(self, reason: str) -> None:
        self.error = self.error or reason
        self.done.set()


class Publisher:
    """Thread-safe: any thread may call ``publish``; the connection lives on the publisher's own thread.

    After a failed connection attempt, publishes fail at once with that error for ``retry_pause`` seconds instead of
    each trying again: a gateway answering hundreds of requests a second while the broker restarts makes a few
    attempts a second, not one per request (make chaos counted 941 in 10 s, each logged five times by pika)."""

    def __init__(self, amqp_url: str, app_id: str, exchange: str = EXCHANGE, connect_timeout: float = 10.0,
                 retry_pause: float = 0.5) -> None:
        self._params = pika.URLParameters(amqp_url)
        self._app_id = app_id
        self._exchange = exchange
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._connection: pika.SelectConnection | None = None
        self._channel: Channel | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._open_error: str | None = None
        self._retry_pause = retry_pause
        self._failed: tuple[float, str] | None = None  # (monotonic time, error) of the last failed attempt
        self._next_tag = 0
        self._pending: dict[int, tuple[_Batch, str]] = {}

    # -- public API -------------------------------------------------------------------------------------------

    def publish(self, messages: Sequence[OutgoingMessage], timeout: float = 60.0) -> None:
        """Publishes persistent messages and returns once the broker has confirmed all of them."""
        if not messages:
            return
        if not tracing.enabled():
            self._publish(messages, timeout, correlation.amqp_headers())
            return
        with tracing.tracer(self._app_id).start_as_current_span(
                "publish", kind=trace.SpanKind.PRODUCER,
                attributes={"messaging.system": "rabbitmq", "messaging.batch.message_count": len(messages),
                            "messaging.destination.name": messages[0].routing_key}):
            common = correlation.amqp_headers()
            tracing.inject(common)
            self._publish(messages, timeout, common)

    def _publish(self, messages: Sequence[OutgoingMessage], timeout: float, common: dict[str, Any]) -> None:
        self._ensure_connected()
        batch = _Batch(len(messages))
        assert self._connection is not None
        prepared = [(m.routing_key, m.encoded(), self._properties(m, common)) for m in messages]
        self._connection.ioloop.add_callback_threadsafe(lambda: self._publish_on_loop(prepared, batch))
        if not batch.done.wait(timeout):
            raise PublishError(f"broker did not confirm {batch.remaining} of {len(messages)} messages in {timeout}s")
        if batch.error:
            raise PublishError(batch.error)
        per_key: dict[str, int] = {}
        for message in messages:
            per_key[message.routing_key] = per_key.get(message.routing_key, 0) + 1
        for routing_key, count in per_key.items():
            PUBLISHED.labels(routing_key).inc(count)

    def close(self) -> None:
        with self._lock:
            connection, thread = self._connection, self._thread
            self._connection = None
            self._ready.clear()
        if connection is not None:
            def _close() -> None:
                if connection.is_open:
                    connection.close()
            with contextlib.suppress(Exception):  # the loop may already be gone
                connection.ioloop.add_callback_threadsafe(_close)
        if thread is not None:
            thread.join(timeout=5)

    # -- connection management ---------------------------------------------------------------------------------

    def _ensure_connected(self) -> None:
        with self._lock:
            if (self._connection is not None and self._ready.is_set() and self._open_error is None
                    and self._thread is not None and self._thread.is_alive()):
                return
            if self._failed is not None and time.monotonic() - self._failed[0] < self._retry_pause:
                raise PublishError(f"cannot open a publishing channel: {self._failed[1]} (retrying shortly)")
            # Whatever is left of an earlier connection (a loop that stopped, an attempt that failed or timed out)
            # is given up: a publish must never go to a loop nobody runs, where it would wait for its whole timeout,
            # every time (make chaos: after a broker restart refused one reconnection, a sender never published again).
            self._abandon(self._connection)
            self._connection = None
            self._ready.clear()
            self._open_error = None
            self._thread = threading.Thread(target=self._run, name="amqp-publisher", daemon=True)
            self._thread.start()
            if not self._ready.wait(self._connect_timeout) or self._open_error:
                error = self._open_error or "timed out"
                self._abandon(self._connection)
                self._connection = None
                self._ready.clear()
                self._failed = (time.monotonic(), error)
                raise PublishError(f"cannot open a publishing channel: {error}")
            self._failed = None

    @staticmethod
    def _abandon(connection: pika.SelectConnection | None) -> None:
        """Closes a connection this publisher no longer uses, on its own loop if that loop still runs."""
        if connection is None:
            return

        def _stop() -> None:
            if connection.is_open:
                with contextlib.suppress(Exception):
                    connection.close()  # its close callback stops the loop
                    return
            connection.ioloop.stop()  # still opening, or already closed: the loop ends, and with it the thread
        with contextlib.suppress(Exception):  # the loop may already be gone
            connection.ioloop.add_callback_threadsafe(_stop)

    def _run(self) -> None:
        structlog.contextvars.bind_contextvars(service=self._app_id)  # this I/O thread's lines (pika's included)
        connection = pika.SelectConnection(
            self._params,
            on_open_callback=self._on_connection_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_connection_closed,
        )
        self._connection = connection
        connection.ioloop.start()

    def _on_open_error(self, connection: pika.SelectConnection, error: BaseException) -> None:
        self._open_error = str(error) or type(error).__name__
        if self._connection is connection:
            self._connection = None
        self._ready.set()  # wakes the caller waiting in _ensure_connected, which reads _open_error
        connection.ioloop.stop()

    def _on_connection_open(self, connection: pika.SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel: Channel) -> None:
        if channel.connection is not self._connection:  # opened too late: this connection was given up
            self._abandon(channel.connection)
            return
        self._channel = channel
        self._next_tag = 0
        channel.add_on_return_callback(self._on_return)
        channel.add_on_close_callback(self._on_channel_closed)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=lambda _frame: self._ready.set())

    def _on_channel_closed(self, _channel: Channel, reason: BaseException) -> None:
        self._fail_pending(f"channel closed: {reason}")
        if self._connection is not None and self._connection.is_open:
            self._connection.close()

    def _on_connection_closed(self, connection: pika.SelectConnection, reason: BaseException) -> None:
        if self._connection is connection or self._connection is None:  # not a given-up one closing late
            self._ready.clear()
            self._fail_pending(f"connection closed: {reason}")
            self._connection = None
        connection.ioloop.stop()

    # -- on the I/O loop --------------------------------------------------------------------------------------

    def _properties(self, message: OutgoingMessage, common: dict[str, Any]) -> BasicProperties:
        return BasicProperties(
            content_type="application/json",
            delivery_mode=2,
            message_id=message.message_id,
            app_id=self._app_id,
            timestamp=int(time.time()),
            headers=_headers(message, common) or None,
            priority=message.priority,
            expiration=None if message.expiration_ms is None else str(message.expiration_ms),
        )

    def _publish_on_loop(self, prepared: list[tuple[str, bytes, BasicProperties]], batch: _Batch) -> None:
        channel = self._channel
        if channel is None or not channel.is_open:
            batch.fail("publishing channel is not open")
            return
        try:
            for routing_key, body, properties in prepared:
                channel.basic_publish(self._exchange, routing_key, body, properties, mandatory=True)
                self._next_tag += 1
                self._pending[self._next_tag] = (batch, properties.message_id or "")
        except Exception as exc:  # noqa: BLE001 - reported to the waiting caller
            batch.fail(f"publish failed: {exc}")

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag = method.delivery_tag
        if method.multiple:
            # The pending tags are in publishing order (increasing): stop at the first one not confirmed yet,
            # instead of scanning every message still pending at each confirm.
            tags = list(itertools.takewhile(lambda t: t <= tag, self._pending))
        else:
            tags = [tag]
        for t in tags:
            entry = self._pending.pop(t, None)
            if entry is None:
                continue
            batch = entry[0]
            if isinstance(method, Basic.Nack):
                batch.fail("broker nacked a message")
            else:
                batch.confirm()

    def _on_return(self, _channel: Channel, _method: Any, properties: BasicProperties, _body: bytes) -> None:
        # An unroutable message is returned before its confirm; fail the batch it belongs to.
        for batch, message_id in self._pending.values():
            if message_id == properties.message_id:
                batch.fail(f"message {message_id} was unroutable (is the topology declared?)")
                return

    def _fail_pending(self, reason: str) -> None:
        for batch, _message_id in self._pending.values():
            batch.fail(reason)
        self._pending.clear()

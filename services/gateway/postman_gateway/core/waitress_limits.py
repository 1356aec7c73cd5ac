"""Waitress held to the gateway's limits: each request's body limit applied as its headers end, and a send timeout.

Body: waitress buffers a whole request body before dispatching it, up to ``max_request_body_size``, one size for
every path. ``AdmittingParser`` replaces that size, per request, by the limit ``BodyLimits.admitted`` gives once
the headers are parsed: a ``Content-Length`` over it is refused before one byte of the body is read, and a chunked
body is cut off as soon as it passes it. The refusal is the API's JSON error (413 ``attachment_limit``), not
waitress's text page. Bodies over the default (uploads) are also counted: beyond ``GATEWAY_THREADS`` of them being
received at once, another is refused at its headers (503, ``Retry-After``), so the pod's disk holds at most that
many files of MAX_UPLOAD_BYTES.

Send: a worker thread writing a response that the client does not read (a large export to a stalled or trickling
reader) blocks in waitress once its buffer is full, and waitress has no timeout there: eight such clients would
hold every thread. ``TimedChannel`` lets a blocked writer wait at most ``send_timeout`` seconds without a byte
leaving; then the connection is closed and the thread goes back to work (nginx's ``send_timeout``).
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from typing import Any

from waitress.channel import ClientDisconnected, HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.utilities import Error, RequestEntityTooLarge

from postman_gateway.core.body_limits import DEFAULT_BODY_BYTES, BodyLimits
from postman_gateway.core.errors import ErrorCode
from postman_shared.logging import get_logger

_WAKE_SECONDS = 1.0  # how often a blocked writer looks at its clock


class BodyTooLarge(RequestEntityTooLarge):
    """Waitress's 413, answered in the API's error shape."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than the {limit} bytes this request may send")
        self.limit = limit

    def to_response(self, ident: Any = None) -> tuple[str, list[tuple[str, str]], bytes]:
        body = json.dumps({"code": ErrorCode.ATTACHMENT_LIMIT, "message": self.body}).encode()
        return f"{self.code} {self.reason}", [("Content-Type", "application/json")], body


class TooManyLargeBodies(Error):
    """More large bodies are being received than the process buffers at once."""

    code = 503
    reason = "Service Unavailable"

    def to_response(self, ident: Any = None) -> tuple[str, list[tuple[str, str]], bytes]:
        body = json.dumps({"code": ErrorCode.SERVICE_UNAVAILABLE, "message": self.body}).encode()
        return f"{self.code} {self.reason}", [("Content-Type", "application/json"), ("Retry-After", "30")], body


class LargeBodies:
    """How many bodies over the default limit (uploads) may be received and buffered at once: each is a file of up
    to MAX_UPLOAD_BYTES on the pod's disk until its request is done, so holders of valid upload URLs cannot pile up
    more of them than the disk was sized for."""

    def __init__(self, at_once: int) -> None:
        self.at_once = at_once
        self._lock = threading.Lock()
        self.in_flight = 0

    def take(self) -> bool:
        with self._lock:
            if self.in_flight >= self.at_once:
                return False
            self.in_flight += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.in_flight -= 1


class _LimitedAdjustments:
    """Waitress's settings with this request's body limit in place of the server-wide one."""

    def __init__(self, adjustments: Any, max_request_body_size: int) -> None:
        self._adjustments = adjustments
        self.max_request_body_size = max_request_body_size

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adjustments, name)


class AdmittingParser(HTTPRequestParser):
    """A request parser that asks ``limits`` how large this request's body may be, once its headers are in."""

    limits: BodyLimits  # set on the subclass ``guarded_channel`` makes
    admitted_bytes: int = 0
    adj: Any  # waitress's Adjustments (untyped)
    error: Any = None

    large_bodies: LargeBodies  # likewise
    _busy = False
    _slot: weakref.finalize | None = None  # gives the large-body slot back, once (or when the parser is dropped)

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        self.admitted_bytes = self.limits.admitted(self.command, self.path, self.query, self.headers)
        # Waitress refuses a body whose size reaches max_request_body_size: one more, so the limit itself passes.
        self.adj = _LimitedAdjustments(self.adj, self.admitted_bytes + 1)
        if self.admitted_bytes > DEFAULT_BODY_BYTES and (self.chunked or self.content_length > DEFAULT_BODY_BYTES):
            if self.large_bodies.take():
                self._slot = weakref.finalize(self, self.large_bodies.give_back)
            else:
                self._busy = True

    def received(self, data: bytes) -> int:
        consumed: int = super().received(data)
        if self._busy and self.error is None:
            self.error = TooManyLargeBodies("Too many files are being uploaded right now; try again in a minute")
            self.completed = True
        if isinstance(self.error, RequestEntityTooLarge) and not isinstance(self.error, BodyTooLarge):
            self.error = BodyTooLarge(self.admitted_bytes)
        if self.error is not None:
            self.expect_continue = False  # no "100 Continue" for a body that is refused
        return consumed

    def give_back_slot(self) -> None:
        if self._slot is not None:
            self._slot()

    def close(self) -> None:
        """Waitress calls this when the request is done (its body buffer is closed): the slot is free again."""
        self.give_back_slot()
        super().close()


class TimedChannel(HTTPChannel):
    """A connection whose response writer gives up after ``send_timeout`` seconds without sending a byte."""

    send_timeout: float = 60.0

    def handle_close(self) -> None:
        if isinstance(self.request, AdmittingParser):  # the client left during its body: nothing will close it
            self.request.give_back_slot()
        super().handle_close()

    def _flush_outbufs_below_high_watermark(self) -> None:
        # Waitress's own version, with a bounded wait: it waits on the condition with no timeout at all.
        if self.total_outbufs_len <= self.adj.outbuf_high_watermark:
            return
        with self.outbuf_lock:
            _, failed = self._flush_exception(self._flush_some, do_close=False)
            if failed:
                self.server.pull_trigger()
                self.outbuf_lock.wait(self.send_timeout)
                return
            while self.connected and self.total_outbufs_len > self.adj.outbuf_high_watermark:
                if time.time() - self.last_activity > self.send_timeout:
                    get_logger(component="gateway").warning("slow reader disconnected", peer=str(self.addr),
                                                            send_timeout=self.send_timeout)
                    self.will_close = True  # the event loop closes the socket
                    self.server.pull_trigger()
                    raise ClientDisconnected
                self.server.pull_trigger()
                self.outbuf_lock.wait(_WAKE_SECONDS)


def guarded_channel(limits: BodyLimits, send_timeout: float, large_bodies_at_once: int) -> type[HTTPChannel]:
    """The channel class for ``server.channel_class``: body limits from ``limits`` (at most
    ``large_bodies_at_once`` bodies over the default at once), writes bounded by ``send_timeout``."""
    parser = type("GatewayRequestParser", (AdmittingParser,),
                  {"limits": limits, "large_bodies": LargeBodies(large_bodies_at_once)})
    return type("GatewayChannel", (TimedChannel,), {"parser_class": parser, "send_timeout": send_timeout})

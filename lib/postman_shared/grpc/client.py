"""gRPC clients: one channel per address and caller identity per process, created on first use.

Every channel is mutual TLS with the certificate of the service making the call (``identity``). A process is one
service, whose bootstrap names it (``use_identity``); when one process hosts several services (the in-process tests),
each service's threads carry their own (``acting_as``), so a call made on the renderer's behalf is the renderer's.

Calls wait for their server to be ready (a service restarting is waited for, up to the call's deadline), except when
the calling service is stopping: ``STOPPING_CALL_GRACE_SECONDS`` after its stop began, every call it still has in
flight is cancelled and new ones fail at once (``service_unavailable``). Every pod of a release restarts together; a
consumer blocked on a service that is itself going away then puts its batch back on the queue and the process exits
within its grace period, instead of waiting out a 30 s deadline per message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import grpc
from opentelemetry import trace

from postman_shared import correlation, tracing
from postman_shared.grpc.errors import ErrorCode, ServiceError, from_rpc_error
from postman_shared.grpc.identity import ServiceIdentity

_channels: dict[tuple[str, ServiceIdentity], grpc.Channel] = {}
_lock = threading.Lock()
_process_identity: ServiceIdentity | None = None
_thread = threading.local()

T = TypeVar("T")

# How long a stopping service's calls in flight may still finish (a healthy server answers in milliseconds).
STOPPING_CALL_GRACE_SECONDS = 5.0


class _Calls:
    """One service's calls in flight, cancelled together when it stops."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight: set[grpc.Future] = set()
        self.cut_off = False
        self.timer: threading.Timer | None = None


_calls: dict[str, _Calls] = {}

_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.enable_retries", 1),
    ("grpc.keepalive_time_ms", 30000),
]


def use_identity(identity: ServiceIdentity) -> None:
    """The identity of this process's calls (its service), unless a thread acts as another."""
    global _process_identity
    _process_identity = identity


@contextmanager
def acting_as(identity: ServiceIdentity) -> Iterator[None]:
    """Calls (stubs) made by this thread inside the block are ``identity``'s."""
    before = getattr(_thread, "identity", None)
    _thread.identity = identity
    try:
        yield
    finally:
        _thread.identity = before


def set_thread_identity(identity: ServiceIdentity) -> None:
    """For a thread that works for one service all its life (e.g. a gRPC server's worker threads)."""
    _thread.identity = identity


def current_identity() -> ServiceIdentity:
    identity = getattr(_thread, "identity", None) or _process_identity
    if identity is None:
        raise RuntimeError("no service identity for gRPC calls: the bootstrap must call client.use_identity")
    return identity


class _CallDetails(grpc.ClientCallDetails):
    def __init__(self, details: grpc.ClientCallDetails, metadata: list[tuple[str, str]]) -> None:
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


class _Correlation(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """Sends the caller's request id (``x-request-id``) and, with tracing on, its trace context with each call,
    from a client span of its own."""

    def __init__(self, service: str) -> None:
        self._service = service

    def _metadata(self, details: grpc.ClientCallDetails) -> list[tuple[str, str]]:
        metadata = list(details.metadata or ())
        request_id = correlation.current().get("request_id")
        if request_id:
            metadata.append((correlation.REQUEST_ID_METADATA, str(request_id)))
        return metadata

    def _call(self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any,
              unary: bool) -> Any:
        metadata = self._metadata(details)
        if not tracing.enabled():
            return continuation(_CallDetails(details, metadata) if metadata else details, request)
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        with tracing.tracer(self._service).start_as_current_span(
                method, kind=trace.SpanKind.CLIENT, attributes={"rpc.system": "grpc", "rpc.method": method},
                record_exception=False, set_status_on_exception=False) as span:
            carrier: dict[str, str] = {}
            tracing.inject(carrier)
            metadata.extend(carrier.items())
            outcome = continuation(_CallDetails(details, metadata), request)
            if unary and outcome.done():  # a blocking call has finished; a future's outcome is not waited for
                code = outcome.code()
                if code is not None and code != grpc.StatusCode.OK:
                    span.set_status(trace.StatusCode.ERROR, code.name)
            return outcome

    def intercept_unary_unary(self, continuation: Callable[..., Any], client_call_details: grpc.ClientCallDetails,
                              request: Any) -> Any:
        return self._call(continuation, client_call_details, request, unary=True)

    def intercept_unary_stream(self, continuation: Callable[..., Any], client_call_details: grpc.ClientCallDetails,
                               request: Any) -> Any:
        return self._call(continuation, client_call_details, request, unary=False)


def channel(address: str, identity: ServiceIdentity | None = None) -> grpc.Channel:
    """The channel to ``address`` as ``identity`` (default: the current thread's service)."""
    identity = identity or current_identity()
    key = (address, identity)
    with _lock:
        existing = _channels.get(key)
        if existing is None:
            if identity.plaintext:
                existing = grpc.insecure_channel(address, options=_OPTIONS)
            else:
                existing = grpc.secure_channel(address, identity.channel_credentials(), options=_OPTIONS)
            existing = grpc.intercept_channel(existing, _Correlation(identity.name))
            _channels[key] = existing
        return existing


def stub(address: str, stub_class: Callable[[grpc.Channel], T], identity: ServiceIdentity | None = None) -> T:
    return stub_class(channel(address, identity))


def _service_calls(identity: ServiceIdentity | None = None) -> _Calls:
    # A thread of no service (a script's, a test's) has calls that no stop cancels.
    identity = identity or getattr(_thread, "identity", None) or _process_identity
    name = identity.name if identity is not None else ""
    with _lock:
        return _calls.setdefault(name, _Calls())


def _stopped() -> ServiceError:
    return ServiceError(ErrorCode.SERVICE_UNAVAILABLE,
                        "This service is stopping; the call to another service was cancelled")


def track(call: T) -> T:
    """Registers a call in flight (a unary future or a stream) of the current thread's service, so that it is
    cancelled if that service is still waiting for it ``STOPPING_CALL_GRACE_SECONDS`` after it began to stop."""
    calls = _service_calls()
    with calls.lock:
        if calls.cut_off:
            call.cancel()  # type: ignore[attr-defined]
            raise _stopped()
        calls.in_flight.add(call)  # type: ignore[arg-type]

    def forget(done: Any) -> None:
        with calls.lock:
            calls.in_flight.discard(done)

    call.add_done_callback(forget)  # type: ignore[attr-defined]
    return call


def begin_stopping(identity: ServiceIdentity, grace: float = STOPPING_CALL_GRACE_SECONDS) -> None:
    """The service is stopping: its calls still in flight after ``grace`` seconds are cancelled, later ones refused."""
    calls = _service_calls(identity)

    def cut_off() -> None:
        with calls.lock:
            calls.cut_off = True
            pending = list(calls.in_flight)
        for pending_call in pending:
            pending_call.cancel()

    with calls.lock:
        if calls.timer is None and not calls.cut_off:
            calls.timer = threading.Timer(grace, cut_off)
            calls.timer.daemon = True
            calls.timer.start()


def allow_calls(identity: ServiceIdentity) -> None:
    """Calls of the service are allowed (again): when it starts, and once it has stopped (another runtime of it in
    the same process, as in the in-process tests, calls normally)."""
    calls = _service_calls(identity)
    with calls.lock:
        if calls.timer is not None:
            calls.timer.cancel()
        calls.timer = None
        calls.cut_off = False


def call(method: Callable[..., Any], request: Any, timeout: float = 30.0) -> Any:
    """Calls a unary method and raises ServiceError (with the server's API code) when it fails."""
    future = track(method.future(request, timeout=timeout, wait_for_ready=True))  # type: ignore[attr-defined]
    try:
        return future.result()
    except grpc.FutureCancelledError:
        raise _stopped() from None
    except grpc.RpcError as exc:
        raise from_rpc_error(exc) from None


def close_all() -> None:
    with _lock:
        for ch in _channels.values():
            ch.close()
        _channels.clear()

"""gRPC server bootstrap: health service, ServiceError mapping, graceful shutdown."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry import trace
from prometheus_client import Counter, Histogram

from postman_shared import correlation, tracing
from postman_shared.grpc.authorization import CallerCheck
from postman_shared.grpc.client import set_thread_identity
from postman_shared.grpc.errors import ERROR_CODE_KEY, RETRY_AFTER_KEY, ErrorCode, ServiceError
from postman_shared.grpc.identity import ServiceIdentity
from postman_shared.logging import get_logger

log = get_logger(component="grpc")

RPCS = Counter("postman_grpc_requests_total", "gRPC calls handled", ["method", "code"])
RPC_SECONDS = Histogram("postman_grpc_request_seconds", "Time spent handling a gRPC call", ["method"])


def _trailers(error: ServiceError) -> tuple[tuple[str, str], ...]:
    if error.retry_after is None:
        return ((ERROR_CODE_KEY, error.code.value),)
    return ((ERROR_CODE_KEY, error.code.value), (RETRY_AFTER_KEY, str(error.retry_after)))


@contextlib.contextmanager
def _answered(method: str, context: grpc.ServicerContext) -> Iterator[None]:
    """Counts the call; a ServiceError becomes its status and API code, anything else an opaque INTERNAL."""
    code = "ok"  # the metric's label: "ok" or the error code
    try:
        yield
    except ServiceError as exc:
        code = exc.code.value
        context.set_trailing_metadata(_trailers(exc))
        context.abort(exc.grpc_status, exc.message)
    except Exception:
        code = ErrorCode.INTERNAL_SERVER.value
        log.exception("unhandled error in gRPC method", method=method)
        context.set_trailing_metadata(((ERROR_CODE_KEY, ErrorCode.INTERNAL_SERVER.value),))
        context.abort(grpc.StatusCode.INTERNAL, "Internal server error")
    finally:
        RPCS.labels(method, code).inc()


def _request_id(context: grpc.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == correlation.REQUEST_ID_METADATA and isinstance(value, str):
            return value if correlation.well_formed_request_id(value) else ""
    return ""


def _field(request: Any, name: str) -> Any:
    """A correlation id the request message carries (``campaign_id``, ``job_id``), or None."""
    value = getattr(request, name, None)
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None


@contextlib.contextmanager
def _correlated(service: str, method: str, request: Any, context: grpc.ServicerContext) -> Iterator[None]:
    """The call's service, request id, campaign and job bound in the log context for the handler, and with tracing
    on, a server span that continues the caller's trace. Each call runs in a fresh ``contextvars.Context`` of gRPC's;
    the ids are unbound at the end all the same."""
    tokens = structlog.contextvars.bind_contextvars(service=service)
    try:
        with correlation.bound(request_id=_request_id(context), campaign_id=_field(request, "campaign_id"),
                               job_id=_field(request, "job_id")):
            if not tracing.enabled():
                yield
                return
            parent = tracing.extract(dict(context.invocation_metadata() or ()))
            with tracing.tracer(service).start_as_current_span(
                    method, context=parent, kind=trace.SpanKind.SERVER,
                    attributes={"rpc.system": "grpc", "rpc.method": method}):
                yield
    finally:
        # A stream the client cancelled may be closed from another context: its own values go with that context.
        with contextlib.suppress(ValueError):
            structlog.contextvars.reset_contextvars(**tokens)


class _ErrorInterceptor(grpc.ServerInterceptor):
    """Turns ServiceError into a status with the API code in trailing metadata, and hides other exceptions; binds
    the call's correlation ids (``_correlated``) around the handler, so its logs and errors carry them."""

    def __init__(self, service: str) -> None:
        self._service = service

    def intercept_service(self, continuation: Callable[..., Any], handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        service = self._service

        def wrap_unary(behaviour: Callable[..., Any]) -> Callable[..., Any]:
            def call(request: Any, context: grpc.ServicerContext) -> Any:
                with (_correlated(service, method, request, context), _answered(method, context),
                      RPC_SECONDS.labels(method).time()):
                    return behaviour(request, context)
                return None  # not reached: _answered aborts the call when the behaviour raised

            return call

        def wrap_stream(behaviour: Callable[..., Any]) -> Callable[..., Any]:
            def call(request: Any, context: grpc.ServicerContext) -> Any:
                with _correlated(service, method, request, context), _answered(method, context):
                    yield from behaviour(request, context)

            return call

        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                wrap_unary(handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                wrap_stream(handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


class GrpcServer:
    """A gRPC server with the standard health service; health is SERVING from ``start`` until ``stop``, unless
    ``set_broken`` was called (a part of the process died: NOT_SERVING until the process restarts).

    With a certificate (``identity``) it serves mutual TLS and answers each method only to the services the table
    of ``authorization`` allows; in plaintext (local development only) it has no caller to check. ``health_bind``
    adds a plaintext server with nothing but the health service, for probes that cannot present a certificate
    (the kubelet's gRPC probe)."""

    def __init__(self, bind: str, service_names: Iterable[str], identity: ServiceIdentity, max_workers: int = 16,
                 health_bind: str = "") -> None:
        interceptors: list[grpc.ServerInterceptor] = [_ErrorInterceptor(identity.name)]
        if not identity.plaintext:
            interceptors.insert(0, CallerCheck(identity.name))
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, initializer=set_thread_identity,
                                       initargs=(identity,)),
            interceptors=interceptors,
            options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        self.health = health.HealthServicer()
        self._health_lock = threading.Lock()
        self._broken = False
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.service_names = list(service_names)
        if identity.plaintext:
            self.port = self.server.add_insecure_port(bind)
        else:
            self.port = self.server.add_secure_port(bind, identity.server_credentials())
        if self.port == 0:
            raise RuntimeError(f"cannot bind gRPC server to {bind}")
        self.probes: grpc.Server | None = None
        self.health_port = 0
        if health_bind:
            self.probes = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self.probes)
            self.health_port = self.probes.add_insecure_port(health_bind)
            if self.health_port == 0:
                raise RuntimeError(f"cannot bind the gRPC health server to {health_bind}")

    def add(self, register: Callable[[Any, grpc.Server], None], servicer: Any) -> None:
        register(servicer, self.server)

    def start(self) -> None:
        self.server.start()
        if self.probes is not None:
            self.probes.start()
        self.set_serving(True)

    def set_serving(self, serving: bool) -> None:
        """Sets the overall status ("", which liveness probes ask) and every named service's (readiness); once
        broken, it stays NOT_SERVING whatever is asked."""
        with self._health_lock:
            serving = serving and not self._broken
            status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
            self.health.set("", status)
            for name in self.service_names:
                self.health.set(name, status)

    def set_broken(self) -> None:
        """NOT_SERVING for good: the process can no longer do all its work (a worker thread died), and only a restart
        brings it back, which the failing liveness probe asks of the kubelet."""
        with self._health_lock:
            self._broken = True
        self.set_serving(False)

    def stop(self, grace: float = 10.0) -> None:
        self.set_serving(False)
        self.server.stop(grace).wait()
        if self.probes is not None:
            self.probes.stop(0).wait()


def wait_for_termination_signal() -> None:
    """Blocks until SIGINT or SIGTERM.

    The wait wakes every half second: the kernel may deliver the signal to any thread (pika's, gRPC's), and then
    CPython only flags it for the main thread, whose handler runs at its next bytecode; a main thread blocked in a
    wait without timeout would never get there, and the process would ignore SIGTERM until killed. The handler only
    records the signal and sets the event (anything that takes a lock, as logging does, could wait on a lock the
    interrupted code holds); the line is logged once the wait is over."""
    stop = threading.Event()
    received: list[int] = []

    def _on_signal(signum: int, _frame: Any) -> None:
        received.append(signum)
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    while not stop.wait(0.5):
        pass
    log.info("stopping", signal=signal.Signals(received[0]).name)


def bind_address(bind_host: str, configured_port: int, own_addr: str) -> str:
    """The address a service's server binds: GRPC_PORT if set, else the port of the service's own *_ADDR."""
    port = configured_port or int(own_addr.rsplit(":", 1)[1])
    return f"{bind_host}:{port}"

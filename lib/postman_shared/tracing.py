"""OpenTelemetry traces across gateway -> gRPC -> queue -> sender, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set.

W3C trace context (``traceparent``) travels with the request id: in gRPC metadata and in AMQP message headers. The
spans are few and coarse: the gateway's HTTP request, each gRPC call (client and server), each ``publish`` call
(one span for its whole batch of messages) and each batch a consumer hands its handler (a child of its messages'
trace when they share one, else linked to each). A million-recipient campaign makes thousands of spans, not millions.

Off, nothing here runs: every caller asks ``enabled()`` (a module global) before it touches a span or a header.

Spans are exported over OTLP/HTTP (protobuf) in batches by the SDK's background thread; each service in a process has
its own provider (``service.name``), as the in-process tests host several services.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from postman_shared.logging import get_logger, set_tracing

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    from postman_shared.settings import Settings

log = get_logger(component="tracing")

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_PROPAGATOR = TraceContextTextMapPropagator()


class _Tracing:
    def __init__(self, new_processor: Callable[[], SpanProcessor], sample_ratio: float) -> None:
        self._new_processor = new_processor
        self._sample_ratio = sample_ratio
        self._providers: dict[str, TracerProvider] = {}
        self._tracers: dict[str, trace.Tracer] = {}
        self._lock = threading.Lock()

    def tracer(self, service: str) -> trace.Tracer:
        found = self._tracers.get(service)
        if found is not None:
            return found
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        with self._lock:
            if service not in self._tracers:
                provider = TracerProvider(resource=Resource.create({"service.name": service}),
                                          sampler=ParentBased(TraceIdRatioBased(self._sample_ratio)))
                provider.add_span_processor(self._new_processor())
                self._providers[service] = provider
                self._tracers[service] = provider.get_tracer("postman")
            return self._tracers[service]

    def flush(self) -> None:
        for provider in list(self._providers.values()):
            provider.force_flush(5000)

    def shutdown(self) -> None:
        for provider in list(self._providers.values()):
            provider.shutdown()


_tracing: _Tracing | None = None


def configure_tracing(settings: Settings) -> None:
    """Turns tracing on for this process when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise leaves it off."""
    if not settings.otel_exporter_otlp_endpoint or _tracing is not None:
        return
    endpoint = f"{settings.otel_exporter_otlp_endpoint}/v1/traces"

    def new_processor() -> SpanProcessor:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        return BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=10))

    enable(new_processor, settings.otel_traces_sampler_arg)
    log.info("tracing on", endpoint=endpoint, sample_ratio=settings.otel_traces_sampler_arg)


def enable(new_processor: Callable[[], SpanProcessor], sample_ratio: float = 1.0) -> None:
    """Tracing on, each service's spans going to a processor ``new_processor`` makes (tests: an in-memory one)."""
    global _tracing
    _tracing = _Tracing(new_processor, sample_ratio)
    set_tracing(True)


def disable() -> None:
    """Tracing off again (tests); spans not yet exported are flushed first."""
    global _tracing
    current, _tracing = _tracing, None
    set_tracing(False)
    if current is not None:
        current.shutdown()


def enabled() -> bool:
    return _tracing is not None


def flush() -> None:
    """Exports the spans still buffered (a stopping service)."""
    if _tracing is not None:
        _tracing.flush()


def tracer(service: str) -> trace.Tracer:
    if _tracing is None:
        return trace.NoOpTracer()
    return _tracing.tracer(service)


def inject(carrier: MutableMapping[str, Any]) -> None:
    """Writes the current span's trace context (``traceparent``, ``tracestate``) into ``carrier``."""
    _PROPAGATOR.inject(carrier)


def extract(carrier: Mapping[str, Any]) -> Context:
    """The trace context a carrier (gRPC metadata as a dict, AMQP headers) holds; an empty context if none."""
    return _PROPAGATOR.extract({key: text(carrier[key]) for key in (TRACEPARENT, TRACESTATE) if key in carrier})


def span_context_of(carrier: Mapping[str, Any]) -> trace.SpanContext | None:
    """The remote span a carrier names, or None."""
    context = trace.get_current_span(extract(carrier)).get_span_context()
    return context if context.is_valid else None


def text(value: Any) -> str:
    """A header's value as text (pika gives bytes for a value that is not UTF-8)."""
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)

"""Per-request id, structured access log and Prometheus metrics.

The request id comes from ``X-Request-Id`` when the caller sends a sane one, else a new one; it is echoed back and
bound in structlog's context so every log line of the request carries it, and the gRPC client sends it on to every
service the request calls (``postman_shared.correlation``). It is assigned when Flask starts the request, before any
``before_request`` hook, so a request refused by a hook (rate limit, body size) has one too. With tracing on, the
request is a server span, the root of its trace: a caller's ``traceparent`` is linked, not followed, since the
public may send anything (and a sampled flag of its choosing). Metrics live in a registry of their own
per app (no global collectors created at import time) and are served at ``/metrics`` on a port of their own
(``METRICS_PORT``, 9100 by default, on ``METRICS_BIND_HOST``), never on the public HTTP port: the Ingress can then send
every path to the gateway (the officers' pages included) without publishing the service's counters.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from flask import Flask, Response, request, request_started
from opentelemetry import context as otel_context
from opentelemetry import trace
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import make_wsgi_app

from postman_gateway.core.request_context import current
from postman_shared import correlation, tracing

# Loggers are made at call time: one bound at import would keep structlog's defaults, not the configured JSON.
from postman_shared.logging import get_logger

REQUEST_ID_HEADER = "X-Request-Id"
# The method label takes only HTTP's own methods: a client may send any token as a method, and each new label value
# would be a new series in every scrape (a cheap way to blow up Prometheus' memory).
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"})


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("gateway_requests_total", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("gateway_request_seconds", "Time to answer an HTTP request",
                                 ["method", "route", "status"], registry=self.registry)

    def wsgi_app(self) -> Any:
        """The ``/metrics`` endpoint as a WSGI app of its own, for the metrics port."""
        return make_wsgi_app(self.registry)


def bind_to_request(**values: Any) -> None:
    """Binds values in the log context until the request ends."""
    current().log_tokens.append(structlog.contextvars.bind_contextvars(**values))


def _start(_sender: Any = None, **_extra: Any) -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    context = current()
    context.request_id = incoming if correlation.well_formed_request_id(incoming) else correlation.new_request_id()
    context.started = time.perf_counter()
    # Waitress answers on its own threads, which do not inherit the main thread's log context: bind the service too.
    bind_to_request(service="gateway", request_id=context.request_id)
    if tracing.enabled():
        _start_span()


def _start_span() -> None:
    caller = tracing.span_context_of(request.headers)
    span = tracing.tracer("gateway").start_span(
        request.method if request.method in KNOWN_METHODS else "HTTP",  # the route is added when it is known
        context=trace.set_span_in_context(trace.INVALID_SPAN), kind=trace.SpanKind.SERVER,
        links=[trace.Link(caller)] if caller is not None else None,
        attributes={"http.request.method": request.method if request.method in KNOWN_METHODS else "_OTHER",
                    "postman.request_id": current().request_id})
    current().span = span
    current().span_token = otel_context.attach(trace.set_span_in_context(span))


def _finish(metrics: GatewayMetrics, response: Response) -> Response:
    context = current()
    if not context.request_id:  # not started by Flask's signal (an app without it): give it an id now
        _start()
    response.headers[REQUEST_ID_HEADER] = context.request_id
    # The route template, not the path: one series per endpoint, whatever the campaign id.
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    status = str(response.status_code)
    span = context.span
    if span is not None:
        span.update_name(f"{request.method if request.method in KNOWN_METHODS else 'HTTP'} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 500:
            span.set_status(trace.StatusCode.ERROR)
    elapsed = time.perf_counter() - (context.started if context.started is not None else time.perf_counter())
    method = request.method if request.method in KNOWN_METHODS else "OTHER"
    metrics.requests.labels(method, route, status).inc()
    metrics.latency.labels(method, route, status).observe(elapsed)
    get_logger(component="gateway").info("request", method=request.method, route=route,
                                         status=response.status_code, duration_ms=round(elapsed * 1000, 1))
    return response


def _bind_path_ids(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """The campaign a route is about (``/v1/campaigns/<campaign_id>/...``) on the request's log lines."""
    campaign_id = (values or {}).get("campaign_id")
    if isinstance(campaign_id, int) or (isinstance(campaign_id, str)
                                        and correlation.well_formed_request_id(campaign_id)):
        bind_to_request(campaign_id=campaign_id)


def _unbind(_error: BaseException | None) -> None:
    context = current()
    span, context.span = context.span, None
    if span is not None:
        otel_context.detach(context.span_token)
        context.span_token = None
        span.end()
    tokens_bound, context.log_tokens = context.log_tokens, []
    for tokens in reversed(tokens_bound):
        structlog.contextvars.reset_contextvars(**tokens)


EXTENSION = "postman_gateway.core.observability"


def install(app: Flask) -> GatewayMetrics:
    """Adds the request id, access log and metrics to the app; the metrics are served by ``bootstrap`` on the
    metrics port (``app.extensions[EXTENSION].wsgi_app()``)."""
    metrics = GatewayMetrics()
    # Before every before_request hook, whichever registered first: ids and spans for refused requests too.
    request_started.connect(_start, app, weak=False)
    app.url_value_preprocessor(_bind_path_ids)
    app.after_request(lambda response: _finish(metrics, response))
    app.teardown_request(_unbind)
    app.extensions[EXTENSION] = metrics
    return metrics

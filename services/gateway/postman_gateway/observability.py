"""Per-request id, structured access log and Prometheus metrics.

The request id comes from ``X-Request-Id`` when the caller sends a sane one, else a new one; it is echoed back and
bound in structlog's context so every log line of the request carries it. Metrics live in a registry of their own
per app (no global collectors created at import time) and are served at ``/metrics`` on a port of their own
(``METRICS_PORT``, 9100 by default, on ``METRICS_BIND_HOST``), never on the public HTTP port: the Ingress can then send
every path to the gateway (the officers' pages included) without publishing the service's counters.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import make_wsgi_app

# Loggers are made at call time: one bound at import would keep structlog's defaults, not the configured JSON.
from postman_shared.logging import get_logger

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
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
    g.setdefault("log_tokens", []).append(structlog.contextvars.bind_contextvars(**values))


def _start() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.started = time.perf_counter()
    # Waitress answers on its own threads, which do not inherit the main thread's log context: bind the service too.
    bind_to_request(service="gateway", request_id=g.request_id)


def _finish(metrics: GatewayMetrics, response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    # The route template, not the path: one series per endpoint, whatever the campaign id.
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    status = str(response.status_code)
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    method = request.method if request.method in KNOWN_METHODS else "OTHER"
    metrics.requests.labels(method, route, status).inc()
    metrics.latency.labels(method, route, status).observe(elapsed)
    get_logger(component="gateway").info("request", method=request.method, route=route,
                                         status=response.status_code, duration_ms=round(elapsed * 1000, 1))
    return response


def _unbind(_error: BaseException | None) -> None:
    for tokens in reversed(g.pop("log_tokens", [])):
        structlog.contextvars.reset_contextvars(**tokens)


EXTENSION = "postman_gateway.observability"


def install(app: Flask) -> GatewayMetrics:
    """Adds the request id, access log and metrics to the app; the metrics are served by ``bootstrap`` on the
    metrics port (``app.extensions[EXTENSION].wsgi_app()``)."""
    metrics = GatewayMetrics()
    app.before_request(_start)
    app.after_request(lambda response: _finish(metrics, response))
    app.teardown_request(_unbind)
    app.extensions[EXTENSION] = metrics
    return metrics

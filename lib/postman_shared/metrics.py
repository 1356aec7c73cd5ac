"""Prometheus metrics endpoint for processes that have no HTTP server of their own."""

from __future__ import annotations

from prometheus_client import start_http_server

DEFAULT_METRICS_PORTS = {
    "auth": 9101,
    "campaign": 9102,
    "renderer": 9103,
    "sender-email": 9104,
    "stats": 9105,
    "sender-sms": 9106,
    "sender-telegram": 9107,
}


def start_metrics_server(service: str, configured_port: int) -> int:
    """Serves /metrics on the configured port (-1: the service's default, 0: off). Returns the port or 0."""
    port = DEFAULT_METRICS_PORTS.get(service, 0) if configured_port < 0 else configured_port
    if port:
        start_http_server(port, addr="0.0.0.0")
    return port

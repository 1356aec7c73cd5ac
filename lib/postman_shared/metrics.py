"""Prometheus metrics endpoint for processes that have no HTTP server of their own, and the port of the plaintext
gRPC health server (for probes).

Both listen on METRICS_BIND_HOST: loopback by default, so that nothing but this machine reads them; a cluster sets
it to the pod's own address (the downward API's status.podIP), which Prometheus and the kubelet reach, and never to
0.0.0.0 (every interface, a sidecar's or a second network's too)."""

from __future__ import annotations

from prometheus_client import start_http_server

DEFAULT_METRICS_PORTS = {
    "gateway": 9100,  # its own port, apart from the public HTTP port (the gateway serves it with its registry)
    "auth": 9101,
    "campaign": 9102,
    "renderer": 9103,
    "sender-email": 9104,
    "stats": 9105,
    "sender-sms": 9106,
    "sender-telegram": 9107,
}
HEALTH_PORT_OFFSET = 100  # a service's default health port: its default metrics port + 100 (auth: 9201)


def metrics_port(service: str, configured_port: int) -> int:
    """METRICS_PORT (-1: the service's default, 0: off)."""
    return DEFAULT_METRICS_PORTS.get(service, 0) if configured_port < 0 else configured_port


def health_port(service: str, configured_port: int) -> int:
    """HEALTH_PORT (-1: the service's default, 0: off). The gateway has none: it is probed on ``/v1/ping``."""
    if configured_port >= 0:
        return configured_port
    default = DEFAULT_METRICS_PORTS.get(service, 0) if service != "gateway" else 0
    return default + HEALTH_PORT_OFFSET if default else 0


def start_metrics_server(service: str, configured_port: int, bind_host: str = "127.0.0.1") -> int:
    """Serves /metrics on ``bind_host`` at the configured port (-1: the service's default, 0: off).
    Returns the port or 0."""
    port = metrics_port(service, configured_port)
    if port:
        start_http_server(port, addr=bind_host)
    return port

"""Composition root of the gateway: the Flask app served by waitress, stopped cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client.exposition import start_wsgi_server
from waitress import create_server
from waitress.server import BaseWSGIServer
from waitress.wasyncore import close_all

from postman_gateway.app import create_app
from postman_gateway.core.backends import EXTENSION as BACKENDS
from postman_gateway.core.body_limits import EXTENSION as BODY_LIMITS
from postman_gateway.core.body_limits import BodyLimits
from postman_gateway.core.observability import EXTENSION as METRICS
from postman_gateway.core.observability import GatewayMetrics
from postman_gateway.core.waitress_limits import guarded_channel
from postman_shared import tracing
from postman_shared.grpc import client
from postman_shared.grpc.server import wait_for_termination_signal
from postman_shared.logging import configure_logging
from postman_shared.metrics import metrics_port
from postman_shared.settings import Settings
from postman_shared.startup_checks import check_startup


class GatewayServer:
    """Same life cycle as a ``ServiceRuntime``: ``start()``, ``stop()``, or ``run()`` until a signal."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.log = configure_logging("gateway", settings.log_level, settings.log_format)
        tracing.configure_tracing(settings)  # off unless OTEL_EXPORTER_OTLP_ENDPOINT is set
        check_startup(settings, "gateway")  # no default secret or reachable outbox outside local development
        self.app = create_app(settings)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._metrics_server: Any = None
        self.metrics_port = 0

    @property
    def port(self) -> int:
        return int(self._server.effective_port) if self._server else 0  # type: ignore[union-attr]

    def start(self) -> None:
        limits: BodyLimits = self.app.extensions[BODY_LIMITS]
        self._server = create_server(
            self.app,
            host=self.settings.gateway_host,
            port=self.settings.gateway_port,
            threads=self.settings.gateway_threads,
            # The largest body any request may send; each request gets its own limit (``waitress_limits``) when
            # its headers end, before waitress buffers any of its body.
            max_request_body_size=limits.largest + 1,
            ident="postman",
        )
        self._server.channel_class = guarded_channel(limits, self.settings.gateway_send_timeout,
                                                     large_bodies_at_once=self.settings.gateway_threads)
        self._thread = threading.Thread(target=self._server.run, name="waitress", daemon=True)
        self._thread.start()
        self._start_metrics()
        self.log.info("started", host=self.settings.gateway_host, port=self.port,
                      threads=self.settings.gateway_threads, metrics_port=self.metrics_port)

    def _start_metrics(self) -> None:
        """``/metrics`` on METRICS_PORT (9100 by default; 0: off) at METRICS_BIND_HOST, never the public port."""
        port = metrics_port("gateway", self.settings.metrics_port)
        if not port:
            return
        metrics: GatewayMetrics = self.app.extensions[METRICS]
        self._metrics_server, _ = start_wsgi_server(port, addr=self.settings.metrics_bind_host,
                                                    registry=metrics.registry)
        self.metrics_port = int(self._metrics_server.server_port)

    def stop(self, grace: float = 10.0) -> None:
        if self._server is not None:
            # Let requests in progress finish, then close every socket, which ends waitress's loop.
            self._server.task_dispatcher.shutdown(cancel_pending=False, timeout=grace)
            # Close every socket from waitress's own loop thread (closing them from here races its select() and
            # fails it with EBADF); an empty socket map ends the loop. Waitress keeps its socket map private.
            socket_map = self._server._map
            self._server.trigger.pull_trigger(lambda: close_all(socket_map))
        if self._thread is not None:
            self._thread.join(timeout=grace)
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
        self.app.extensions[BACKENDS].publisher.close()
        client.close_all()
        tracing.flush()
        self.log.info("stopped")

    def run(self) -> None:
        self.start()
        wait_for_termination_signal()
        self.stop()


def build(settings: Settings) -> GatewayServer:
    return GatewayServer(settings)

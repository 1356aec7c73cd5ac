"""Composition root of the gateway: the Flask app served by waitress, on the shared ``ServiceRuntime`` like every
service (logging, tracing, start-up checks, its gRPC identity, the stop on SIGINT/SIGTERM, worker-thread health).

Waitress runs as the runtime's one worker loop: should it stop serving on its own, the runtime marks the process
broken and ``/v1/ping`` (the readiness and liveness probe) answers 503 until the pod restarts; from the start of a
stop it answers 503 too, so that no new request is routed here while the requests in progress finish."""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client.exposition import start_wsgi_server
from waitress import create_server
from waitress.server import BaseWSGIServer
from waitress.wasyncore import close_all

from postman_gateway.app import HEALTH, create_app
from postman_gateway.core.backends import EXTENSION as BACKENDS
from postman_gateway.core.body_limits import EXTENSION as BODY_LIMITS
from postman_gateway.core.body_limits import BodyLimits
from postman_gateway.core.observability import EXTENSION as METRICS
from postman_gateway.core.observability import GatewayMetrics
from postman_gateway.core.waitress_limits import guarded_channel
from postman_shared.grpc import client
from postman_shared.grpc.server import wait_for_termination_signal
from postman_shared.metrics import metrics_port
from postman_shared.runtime import ServiceRuntime
from postman_shared.settings import Settings

# Requests in progress when a stop begins get this long to finish (and their calls to other services with them).
REQUEST_GRACE_SECONDS = 10.0


class GatewayServer:
    """``start()``, ``stop()``, or ``run()`` until a signal; ``port`` and ``metrics_port`` once started."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Logging, tracing (off unless OTEL_EXPORTER_OTLP_ENDPOINT is set) and the start-up checks (no default secret
        # or reachable outbox outside local development) as in every service; /metrics from the app's own registry.
        self.runtime = ServiceRuntime("gateway", settings, serves_metrics=False,
                                      stopping_call_grace=REQUEST_GRACE_SECONDS)
        self.log = self.runtime.log
        self.app = create_app(settings)
        self.app.extensions[HEALTH] = lambda: self.runtime.serving
        self.runtime.add_loop(self._serve)
        self.runtime.on_stop(self._close)
        self._grace = REQUEST_GRACE_SECONDS
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
        self._start_metrics()
        self.runtime.start()  # runs ``_serve``, which starts waitress's thread
        self.log.info("serving http", host=self.settings.gateway_host, port=self.port,
                      threads=self.settings.gateway_threads, metrics_port=self.metrics_port)

    def _serve(self, stopping: threading.Event) -> None:
        """The runtime's worker loop: waitress serves until the stop begins; if it ends before, this raises and the
        runtime reports the process broken. Then requests in progress get the grace to finish."""
        assert self._server is not None and self._thread is not None
        self._thread.start()
        while not stopping.wait(0.5):
            if not self._thread.is_alive():
                raise RuntimeError("waitress stopped serving before the gateway stopped")
        # Let requests in progress finish, then close every socket, which ends waitress's loop.
        self._server.task_dispatcher.shutdown(cancel_pending=False, timeout=self._grace)
        # Close every socket from waitress's own loop thread (closing them from here races its select() and fails it
        # with EBADF); an empty socket map ends the loop. Waitress keeps its socket map private.
        socket_map = self._server._map
        self._server.trigger.pull_trigger(lambda: close_all(socket_map))
        self._thread.join(timeout=self._grace)

    def _start_metrics(self) -> None:
        """``/metrics`` on METRICS_PORT (9100 by default; 0: off) at METRICS_BIND_HOST, never the public port."""
        port = metrics_port("gateway", self.settings.metrics_port)
        if not port:
            return
        metrics: GatewayMetrics = self.app.extensions[METRICS]
        self._metrics_server, _ = start_wsgi_server(port, addr=self.settings.metrics_bind_host,
                                                    registry=metrics.registry)
        self.metrics_port = int(self._metrics_server.server_port)

    def _close(self) -> None:
        """After waitress has stopped (the runtime's stop steps): the metrics port, the broker and gRPC channels."""
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
        self.app.extensions[BACKENDS].publisher.close()
        client.close_all()

    def stop(self, grace: float = REQUEST_GRACE_SECONDS) -> None:
        self._grace = grace
        self.runtime.stop()

    def run(self) -> None:
        """Serves until SIGINT or SIGTERM, then stops cleanly."""
        client.use_identity(self.runtime.identity)  # this process is the gateway: every thread calls as it
        self.start()
        wait_for_termination_signal()
        self.stop()


def build(settings: Settings) -> GatewayServer:
    return GatewayServer(settings)

"""Composition root of the gateway: the Flask app served by waitress, stopped cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import threading

from waitress import create_server
from waitress.server import BaseWSGIServer
from waitress.wasyncore import close_all

from postman_gateway.app import create_app
from postman_gateway.backends import EXTENSION as BACKENDS
from postman_shared.grpc import client
from postman_shared.grpc.server import wait_for_termination_signal
from postman_shared.logging import configure_logging
from postman_shared.settings import Settings

# Waitress buffers a request body before the app sees it; a little above our own limit, so that the app's JSON
# 413 is what a slightly oversized upload gets, and waitress's own refusal only protects against the absurd.
_BODY_MARGIN_BYTES = 1024 * 1024


class GatewayServer:
    """Same life cycle as a ``ServiceRuntime``: ``start()``, ``stop()``, or ``run()`` until a signal."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.log = configure_logging("gateway", settings.log_level, settings.log_format)
        self.app = create_app(settings)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.effective_port) if self._server else 0  # type: ignore[union-attr]

    def start(self) -> None:
        self._server = create_server(
            self.app,
            host=self.settings.gateway_host,
            port=self.settings.gateway_port,
            threads=self.settings.gateway_threads,
            max_request_body_size=self.settings.max_upload_bytes + _BODY_MARGIN_BYTES,
            ident="postman",
        )
        self._thread = threading.Thread(target=self._server.run, name="waitress", daemon=True)
        self._thread.start()
        self.log.info("started", host=self.settings.gateway_host, port=self.port,
                      threads=self.settings.gateway_threads)

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
        self.app.extensions[BACKENDS].publisher.close()
        client.close_all()
        self.log.info("stopped")

    def run(self) -> None:
        self.start()
        wait_for_termination_signal()
        self.stop()


def build(settings: Settings) -> GatewayServer:
    return GatewayServer(settings)

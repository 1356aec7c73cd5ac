"""A local HTTP server playing a client's system that receives Postman's webhooks.

Each path behaves its own way: ``/ok`` answers 200; ``/flaky/<n>`` answers 503 to its first ``n`` requests, then
200; ``/down`` always answers 500; ``/slow/<seconds>`` answers 200 after that long; ``/redirect`` answers 302 to the
cloud metadata address (a client must not follow it). Every request is recorded in ``received`` with its path, body,
headers, when it arrived, and whether its ``X-Postman-Signature`` verifies under ``secrets[path prefix]`` (the
receiver checks signatures the way docs/webhooks.md tells clients to).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from postman_shared.client_webhooks import verify
from tests.support.stores import free_port


@dataclass(frozen=True)
class Received:
    path: str
    body: bytes
    headers: dict[str, str]
    at: float  # time.monotonic() when the request arrived
    signature_ok: bool | None  # None: no secret known for the path

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """``with WebhookReceiver() as receiver: receiver.url("/ok") ... receiver.secrets["/ok"] = secret``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.secrets: dict[str, str] = {}
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                arrived = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path
                prefix = "/" + path.strip("/").split("/", 1)[0]
                secret = receiver.secrets.get(path) or receiver.secrets.get(prefix)
                signed = verify(secret, self.headers.get("X-Postman-Signature", ""), body) if secret else None
                with receiver._lock:
                    receiver._counts[path] += 1
                    count = receiver._counts[path]
                    receiver.received.append(Received(path, body, dict(self.headers.items()), arrived, signed))
                status, location = 200, None
                parts = path.strip("/").split("/")
                if parts[0] == "flaky" and count <= int(parts[1]):
                    status = 503
                elif parts[0] == "down":
                    status = 500
                elif parts[0] == "slow":
                    time.sleep(float(parts[1]))
                elif parts[0] == "redirect":
                    status, location = 302, "http://169.254.169.254/latest/meta-data/"
                try:
                    self.send_response(status)
                    if location:
                        self.send_header("Location", location)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the client gave up (a slow answer past its timeout)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, prefix: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path.startswith(prefix)]

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

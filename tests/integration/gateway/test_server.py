"""The gateway process: waitress serving the app on the configured port, stopping cleanly."""

from __future__ import annotations

import urllib.error
import urllib.request

from postman_gateway.bootstrap import build


def test_serves_over_http_and_stops(settings):
    gateway = build(settings)
    gateway.start()
    try:
        base = f"http://127.0.0.1:{settings.gateway_port}"
        request = urllib.request.Request(f"{base}/v1/ping", headers={"X-Request-Id": "probe-1"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.read() == b"pong"
            assert response.headers["X-Request-Id"] == "probe-1"
        try:
            urllib.request.urlopen(f"{base}/v1/missing", timeout=10)
            raise AssertionError("expected a 404")
        except urllib.error.HTTPError as error:
            assert error.code == 404
            assert error.headers["Content-Type"] == "application/json"
    finally:
        gateway.stop(grace=5)
    assert gateway._thread is not None and not gateway._thread.is_alive()

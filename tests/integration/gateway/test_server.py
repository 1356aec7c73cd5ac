"""The gateway process: waitress serving the app on the configured port, stopping cleanly."""

from __future__ import annotations

import hashlib
import http.client
import time
import urllib.error
import urllib.request

from postman_gateway.bootstrap import build
from postman_shared.object_store import LocalObjectStore
from tests.integration.gateway.conftest import content_md5, local_path


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


def test_metrics_are_served_on_their_own_port_and_not_on_the_public_one(settings):
    from dataclasses import replace

    from tests.support.stores import free_port

    gateway = build(replace(settings, metrics_port=free_port(), metrics_bind_host="127.0.0.1"))
    gateway.start()
    try:
        base = f"http://127.0.0.1:{settings.gateway_port}"
        urllib.request.urlopen(f"{base}/v1/ping", timeout=10).read()
        try:
            urllib.request.urlopen(f"{base}/metrics", timeout=10)
            raise AssertionError("expected a 404 on the public port")
        except urllib.error.HTTPError as error:
            assert error.code == 404
        with urllib.request.urlopen(f"http://127.0.0.1:{gateway.metrics_port}/metrics", timeout=10) as response:
            text = response.read().decode()
        assert 'gateway_requests_total{method="GET",route="/v1/ping",status="200"} 1.0' in text
    finally:
        gateway.stop(grace=5)
    try:  # stopped with the gateway
        urllib.request.urlopen(f"http://127.0.0.1:{gateway.metrics_port}/metrics", timeout=2)
        raise AssertionError("the metrics port still answers after stop")
    except urllib.error.URLError:
        pass


def test_a_chunked_upload_through_waitress_is_stored_whole(settings):
    data = b"recipient,name\n" + b"".join(b"officer%d@example.gov.sg,Officer %d\n" % (i, i) for i in range(20000))
    store = LocalObjectStore(settings.upload_dir, settings.public_url, settings.upload_signing_key, 60)
    gateway = build(settings)
    gateway.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", settings.gateway_port, timeout=10)
        chunks = (data[i:i + 65536] for i in range(0, len(data), 65536))
        connection.request("PUT", local_path(store.presign_put("chunked-1", "text/csv", content_md5(data))),
                           body=chunks, headers={"Content-MD5": content_md5(data)}, encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 200, response.read()
        assert response.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    finally:
        gateway.stop(grace=5)
    assert (settings.upload_dir / "chunked-1").read_bytes() == data


def _wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_ping_answers_503_once_a_stop_began_so_no_new_request_is_routed_here(settings):
    gateway = build(settings)
    gateway.start()
    probe = gateway.app.test_client()
    try:
        assert probe.get("/v1/ping").status_code == 200
        gateway.runtime.stopping.set()  # the first thing a stop does (SIGTERM), before requests in progress finish
        response = probe.get("/v1/ping")
        assert response.status_code == 503 and response.data == b"not serving"
    finally:
        gateway.stop(grace=5)


def test_ping_answers_503_for_good_once_waitress_stopped_serving_on_its_own(settings):
    from waitress.wasyncore import close_all

    gateway = build(settings)
    gateway.start()
    probe = gateway.app.test_client()
    try:
        assert probe.get("/v1/ping").status_code == 200
        server = gateway._server
        server.trigger.pull_trigger(lambda: close_all(server._map))  # waitress's loop ends, the process stays up
        _wait_for(lambda: gateway.runtime.dead_threads)
        assert probe.get("/v1/ping").status_code == 503
        assert any("_serve" in name for name in gateway.runtime.dead_threads)
    finally:
        gateway.stop(grace=5)

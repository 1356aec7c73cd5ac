"""The gateway cannot be exhausted by request bodies or slow exports (issue 13).

Bodies: waitress buffers a body before the app sees it, so each request's limit is decided when its headers end
(``body_limits``, applied by ``waitress_limits``): 1 MiB for JSON, forms and templates; MAX_UPLOAD_BYTES only for a
presigned PUT whose signature is valid and for the upload page's post carrying its session's upload ticket. A
larger ``Content-Length`` is answered 413 before a byte of the body is sent; a chunked body is cut off at the limit.

Exports: at most EXPORTS_PER_USER at once per user (a 429 that says why beyond it), and a response whose client
reads nothing for GATEWAY_SEND_TIMEOUT seconds gives its thread back.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from flask import Flask, Response
from waitress import create_server

from postman_gateway.bootstrap import GatewayServer, build
from postman_gateway.core.body_limits import (
    DEFAULT_BODY_BYTES,
    UPLOAD_MARGIN_BYTES,
    UPLOAD_TICKET_COOKIE,
    BodyLimits,
    upload_ticket,
)
from postman_gateway.core.export_slots import ExportSlots
from postman_gateway.core.sessions import SESSION_COOKIE
from postman_gateway.core.waitress_limits import guarded_channel
from postman_shared.grpc.errors import ServiceError
from postman_shared.object_store import LocalObjectStore
from tests.integration.gateway.conftest import (  # noqa: F401 - fixtures of these tests
    app,
    http,
    new_address,
    new_caller,
    one_time_password,
    pipeline,
)
from tests.integration.web.conftest import post_form, web_sign_in  # noqa: F401 - a fixture

MiB = 1024 * 1024


@pytest.fixture
def gateway(settings) -> Iterator[GatewayServer]:
    server = build(replace(settings, max_upload_bytes=8 * MiB))
    server.start()
    yield server
    server.stop(grace=5)


def exchange(port: int, head: str, body: bytes = b"", timeout: float = 5.0) -> tuple[int, str]:
    """Sends a raw request (``head`` without its blank line) and reads the answer until the server closes; (status,
    body). Fails if nothing complete comes back within ``timeout``: the server is waiting for more of the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(head.replace("\n", "\r\n").encode() + b"Connection: close\r\n\r\n" + body)
        return _answer(connection)


def _answer(connection: socket.socket) -> tuple[int, str]:
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except TimeoutError:
        raise AssertionError(f"no complete answer: the server is still reading the body ({received[:200]!r})") \
            from None
    except ConnectionResetError:
        pass  # the server closed after answering, with our unread body still in its buffer
    head, _, body = received.partition(b"\r\n\r\n")
    assert head, "no answer at all"
    return int(head.split()[1]), body.decode()


def _refused(status: int, body: str) -> str:
    assert status == 413, (status, body)
    answer = json.loads(body)
    assert answer["code"] == "attachment_limit"
    return str(answer["message"])


# -- bodies, through the real server ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["POST /v1/auth/otp", "POST /v1/campaigns", "PUT /v1/campaign/1/email/template",
                                    "POST /campaigns/1/template", "POST /nowhere", "PUT /uploads/x"])
def test_a_large_body_is_refused_at_its_headers_on_every_path(gateway, target):
    # 50 MB announced, nothing sent: the old gateway waited to buffer it all (up to 500 MB) on any path.
    status, body = exchange(gateway.port, f"{target} HTTP/1.1\nHost: gateway\nContent-Type: application/json\n"
                                          f"Content-Length: {50_000_000}\n")

    assert f"{DEFAULT_BODY_BYTES} bytes" in _refused(status, body)


def test_a_chunked_body_is_cut_off_at_the_limit(gateway):
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as connection:
        connection.sendall(b"POST /v1/auth/otp HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")

        def send_chunks() -> None:
            chunk = b"%x\r\n%s\r\n" % (64 * 1024, b" " * 64 * 1024)
            try:
                for _ in range(64):  # 4 MiB, never finished
                    connection.sendall(chunk)
            except OSError:
                pass  # refused and closed: the point

        sender = threading.Thread(target=send_chunks, daemon=True)
        sender.start()
        status, body = _answer(connection)
        sender.join(5)

    _refused(status, body)  # the old gateway took all 4 MiB, then waited for the rest


def test_only_a_validly_signed_upload_put_may_send_a_large_body(gateway, settings):
    store = LocalObjectStore(settings.upload_dir, settings.public_url, settings.upload_signing_key, 60)
    data = b"recipient\n" + b"someone@example.gov.sg\n" * (3 * MiB // 23)
    signed = urlsplit(store.presign_put("campaign-1-big.csv", "text/csv", ""))
    forged = signed.query.replace("signature=", "signature=0")

    forged_status, forged_body = exchange(gateway.port, f"PUT {signed.path}?{forged} HTTP/1.1\nHost: gateway\n"
                                                        f"Content-Length: {len(data)}\n")
    status, _ = exchange(gateway.port, f"PUT {signed.path}?{signed.query} HTTP/1.1\nHost: gateway\n"
                                       f"Content-Type: text/csv\nContent-Length: {len(data)}\n", data, timeout=30)

    _refused(forged_status, forged_body)
    assert status == 200
    assert (settings.upload_dir / "campaign-1-big.csv").read_bytes() == data


def test_only_gateway_threads_large_bodies_are_received_at_once(settings):
    gateway = build(replace(settings, max_upload_bytes=8 * MiB, gateway_threads=2))
    gateway.start()
    store = LocalObjectStore(settings.upload_dir, settings.public_url, settings.upload_signing_key, 60)
    signed = urlsplit(store.presign_put("campaign-1-slow.csv", "text/csv", ""))
    head = (f"PUT {signed.path}?{signed.query} HTTP/1.1\r\nHost: gateway\r\nContent-Length: {4 * MiB}\r\n"
            "Connection: close\r\n\r\n").encode()
    slow_uploads = []
    try:
        for _ in range(2):  # two clients sending their files slowly: each body is being buffered
            connection = socket.create_connection(("127.0.0.1", gateway.port), timeout=5)
            connection.sendall(head + b"x" * 1024)
            slow_uploads.append(connection)
        time.sleep(0.2)

        with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as third:
            third.sendall(head)
            status, body = _answer(third)
        assert status == 503 and json.loads(body)["code"] == "service_unavailable", (status, body)

        slow_uploads.pop().close()  # one gives up: its place is free
        deadline = time.monotonic() + 5
        while True:
            status, _ = exchange(gateway.port, f"PUT {signed.path}?{signed.query} HTTP/1.1\nHost: gateway\n"
                                               f"Content-Length: {2 * MiB}\n", b"y" * 2 * MiB, timeout=10)
            if status != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status == 200
        for _ in range(3):  # a finished upload gives its place back too
            status, _ = exchange(gateway.port, f"PUT {signed.path}?{signed.query} HTTP/1.1\nHost: gateway\n"
                                               f"Content-Length: {2 * MiB}\n", b"z" * 2 * MiB, timeout=10)
            assert status == 200
    finally:
        for connection in slow_uploads:
            connection.close()
        gateway.stop(grace=5)


def test_the_upload_page_takes_a_large_file_only_with_its_sessions_ticket(gateway, settings):
    head = f"POST /campaigns/1/recipients HTTP/1.1\nHost: gateway\nContent-Length: {4 * MiB}\n"
    ticket = upload_ticket(settings.upload_signing_key, "someone-elses-session", int(time.time()) + 60)

    for cookies in ("", f"{SESSION_COOKIE}=mine", f"{SESSION_COOKIE}=mine; {UPLOAD_TICKET_COOKIE}={ticket}"):
        _refused(*exchange(gateway.port, head + (f"Cookie: {cookies}\n" if cookies else "")))


def test_an_upload_ticket_admits_only_its_own_session_until_it_expires(app, settings):  # noqa: F811 - imported fixtures
    limits = BodyLimits(app.url_map, settings)
    now = int(time.time())

    def admitted(session: str, ticket: str) -> int:
        return limits.admitted("POST", "/campaigns/7/recipients", "",
                               {"COOKIE": f"{SESSION_COOKIE}={session}; {UPLOAD_TICKET_COOKIE}={ticket}"})

    assert admitted("mine", upload_ticket(settings.upload_signing_key, "mine", now + 60)) == \
        settings.max_upload_bytes + UPLOAD_MARGIN_BYTES
    assert admitted("mine", upload_ticket(settings.upload_signing_key, "theirs", now + 60)) == DEFAULT_BODY_BYTES
    assert admitted("mine", upload_ticket(settings.upload_signing_key, "mine", now - 1)) == DEFAULT_BODY_BYTES
    assert admitted("mine", upload_ticket("another-key-entirely", "mine", now + 60)) == DEFAULT_BODY_BYTES
    assert limits.admitted("POST", "/campaigns/7/template", "", {}) == DEFAULT_BODY_BYTES
    assert admitted("mine", f"{now + 60}.caf\u00e9") == DEFAULT_BODY_BYTES  # not ASCII: refused, not a crash
    assert limits.admitted("PUT", "/uploads/k", "&".join(f"f{i}=1" for i in range(50)), {}) == DEFAULT_BODY_BYTES
    assert limits.admitted("POST", "/v1/transactional/email/send", "", {}) > DEFAULT_BODY_BYTES


def test_the_upload_page_hands_its_officer_a_ticket_that_admits_the_file(app, settings, pipeline, web_sign_in):  # noqa: F811 - imported fixtures
    officer = web_sign_in()
    created = post_form(officer.client, "/campaigns/new", name="Ticketed", channel="EMAIL")
    page = created.headers["Location"].removesuffix("/template") + "/recipients"

    assert officer.client.get(page).status_code == 200

    ticket = officer.client.get_cookie(UPLOAD_TICKET_COOKIE, path="/campaigns/")
    session = officer.client.get_cookie(SESSION_COOKIE)
    assert ticket is not None and ticket.http_only and session is not None
    assert BodyLimits(app.url_map, settings).admitted(
        "POST", page, "", {"COOKIE": f"{SESSION_COOKIE}={session.value}; {UPLOAD_TICKET_COOKIE}={ticket.value}"},
    ) == settings.max_upload_bytes + UPLOAD_MARGIN_BYTES


def test_the_apps_own_limit_is_small_for_a_body_nobody_sized(app):  # noqa: F811 - imported fixtures
    assert app.config["MAX_CONTENT_LENGTH"] == DEFAULT_BODY_BYTES


# -- a response nobody reads ------------------------------------------------------------------------------------------


def test_a_client_that_reads_nothing_gives_the_thread_back_after_the_send_timeout(settings):
    closed = threading.Event()
    slow = Flask("slow_reader")

    @slow.get("/export")
    def export() -> Response:
        def rows() -> Iterator[bytes]:
            try:
                for _ in range(1024):  # 256 MiB if anybody read it
                    yield b"x" * 256 * 1024
            finally:
                closed.set()

        return Response(rows())

    @slow.get("/ping")
    def ping() -> str:
        return "pong"

    server = create_server(slow, host="127.0.0.1", port=0, threads=1, outbuf_high_watermark=MiB)
    server.channel_class = guarded_channel(BodyLimits(slow.url_map, settings), send_timeout=1.0,
                                           large_bodies_at_once=1)
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    try:
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", int(server.effective_port)))
        stalled.sendall(b"GET /export HTTP/1.1\r\nHost: x\r\n\r\n")  # and never reads

        assert closed.wait(15), "the writer is still blocked on a client that reads nothing"
        # The only thread is free again: another client is answered.
        status, body = exchange(int(server.effective_port), "GET /ping HTTP/1.1\nHost: x\n", timeout=10)
        assert (status, body) == (200, "pong")
        stalled.close()
    finally:
        server.close()


# -- concurrent exports ----------------------------------------------------------------------------------------------


def test_a_user_may_run_only_exports_per_user_exports_at_once(http, pipeline, new_caller):  # noqa: F811 - imported fixtures
    caller, other = new_caller(), new_caller()
    ids = [http.post("/v1/campaigns", headers=c.headers, json={"name": "Export", "type": "EMAIL"}).json["id"]
           for c in (caller, caller, other)]

    first = http.get(f"/v1/campaign/{ids[0]}/email/export", headers=caller.headers, buffered=False)
    second = http.get(f"/v1/campaign/{ids[1]}/email/export", headers=caller.headers, buffered=False)
    third = http.get(f"/v1/campaign/{ids[0]}/email/export", headers=caller.headers)
    elsewhere = http.get(f"/v1/campaign/{ids[2]}/email/export", headers=other.headers)

    assert (first.status_code, second.status_code) == (200, 200)
    assert third.status_code == 429 and third.json["code"] == "rate_limit"
    assert "already have 2 export(s) downloading" in third.json["message"] and third.headers["Retry-After"]
    assert elsewhere.status_code == 200, "another user's export is not held up"
    first.close()  # finished (or disconnected): its slot is free again
    again = http.get(f"/v1/campaign/{ids[0]}/email/export", headers=caller.headers)
    assert again.status_code == 200 and json.loads(again.get_data()) == []
    second.close()


def test_all_users_together_get_at_most_half_of_the_threads_for_exports():
    slots = ExportSlots(per_user=2, in_all=3)
    for user in (1, 1, 2):
        slots.take(user)

    with pytest.raises(ServiceError, match="Too many exports") as refused:
        slots.take(3)

    assert refused.value.code == "rate_limit"
    slots.give_back(1)
    slots.take(3)
    assert ExportSlots.from_settings(replace_threads(8)).in_all == 4


def replace_threads(threads: int):
    from postman_shared.settings import Settings

    return replace(Settings(), gateway_threads=threads)

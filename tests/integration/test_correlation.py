"""Correlation ids and traces across the services: gateway -> gRPC -> queue -> consumer, on the real broker.

The one-time password flow is the probe: the gateway's HTTP request calls auth over gRPC, auth publishes the email
to ``email.priority`` and sender-email consumes it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from postman_gateway.app import create_app
from postman_shared import correlation, tracing
from postman_shared.broker import BatchConsumer, OutgoingMessage, Publisher
from postman_shared.broker.topology import CAMPAIGN_SEND, EMAIL_PRIORITY
from tests.support.inprocess import running


def _address() -> str:
    return f"officer-{time.monotonic_ns()}@agency.gov.sg"


def _priority_email(amqp_channel: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        method, properties, _body = amqp_channel.basic_get(EMAIL_PRIORITY, auto_ack=True)
        if method is not None:
            return properties
        time.sleep(0.05)
    raise AssertionError("no email on the priority queue")


def test_the_gateways_request_id_reaches_the_services_logs_and_the_messages_headers(settings, amqp_channel, capfd):
    with running(settings, "auth"):
        response = create_app(settings).test_client().post(
            "/v1/auth/otp", json={"email": _address()}, headers={"X-Request-Id": "probe-42.a:b"})
        assert response.status_code == 200, response.json
        assert response.headers["X-Request-Id"] == "probe-42.a:b"
        properties = _priority_email(amqp_channel)
    assert properties.headers["x-postman-request-id"] == "probe-42.a:b"
    assert "traceparent" not in properties.headers  # tracing is off: no trace context is made up
    auth_lines = [line for line in capfd.readouterr().out.splitlines() if "one-time password sent" in line]
    assert len(auth_lines) == 1 and "service=auth" in auth_lines[0] and "request_id=probe-42.a:b" in auth_lines[0]


def test_a_malformed_request_id_is_replaced_by_a_new_one_everywhere(settings, amqp_channel):
    with running(settings, "auth"):
        response = create_app(settings).test_client().post(
            "/v1/auth/otp", json={"email": _address()}, headers={"X-Request-Id": "x" * 129})
        properties = _priority_email(amqp_channel)
    made_up = response.headers["X-Request-Id"]
    assert made_up != "x" * 129 and correlation.well_formed_request_id(made_up)
    assert properties.headers["x-postman-request-id"] == made_up


def test_a_request_refused_by_an_early_hook_still_gets_its_request_id(settings):
    app = create_app(settings)
    # Rate limits and body limits refuse requests in before_request hooks registered before the request id's.
    app.before_request_funcs.setdefault(None, []).insert(0, lambda: ("slow down", 429))
    response = app.test_client().get("/v1/ping", headers={"X-Request-Id": "early-1"})
    assert (response.status_code, response.headers["X-Request-Id"]) == (429, "early-1")


def test_a_consumer_binds_the_ids_of_each_batch_and_unbinds_them_after(stores, amqp_channel):
    publisher = Publisher(stores.amqp_url, app_id="test")
    try:
        with correlation.bound(request_id="req-1", campaign_id=7):
            publisher.publish([OutgoingMessage(CAMPAIGN_SEND, {"n": 1}, "k1")])
        publisher.publish([OutgoingMessage(CAMPAIGN_SEND, {"campaign_id": 9, "job_id": 3}, "k2")])
        publisher.publish([OutgoingMessage(CAMPAIGN_SEND, {"n": 3}, "k3")])
    finally:
        publisher.close()
    seen: list[dict[str, Any]] = []

    def handler(batch):
        seen.append({key: value for key, value in structlog.contextvars.get_contextvars().items()
                     if key in correlation.CORRELATION_KEYS})
        if len(seen) == 3:
            consumer.stop()
        return []

    consumer = BatchConsumer(stores.amqp_url, CAMPAIGN_SEND, handler, batch_size=1, max_wait=0.2)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    # The third message carries no ids, and none of the earlier ones' stayed bound.
    assert seen == [{"request_id": "req-1", "campaign_id": 7}, {"campaign_id": 9, "job_id": 3}, {}]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.enable(lambda: SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        tracing.disable()


def _wait_for(exporter: InMemorySpanExporter, name: str, timeout: float = 20.0) -> tuple[ReadableSpan, ...]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished = exporter.get_finished_spans()
        if any(span.name == name for span in finished):
            return finished
        time.sleep(0.05)
    raise AssertionError(f"no {name} span; spans: {[s.name for s in exporter.get_finished_spans()]}")


def test_one_trace_runs_from_the_gateway_request_through_grpc_to_the_queue_consumer(settings, amqp_channel, spans,
                                                                                   capfd):
    with running(settings, "auth", "sender-email"):
        response = create_app(settings).test_client().post("/v1/auth/otp", json={"email": _address()})
        assert response.status_code == 200, response.json
        finished = _wait_for(spans, f"consume {EMAIL_PRIORITY}")

    def one(kind: SpanKind, service: str, name: str) -> ReadableSpan:
        found = [s for s in finished if s.kind == kind and s.resource.attributes["service.name"] == service
                 and name in s.name]
        assert len(found) == 1, [(s.name, s.kind, s.resource.attributes["service.name"]) for s in finished]
        return found[0]

    request = one(SpanKind.SERVER, "gateway", "POST /v1/auth/otp")
    call = one(SpanKind.CLIENT, "gateway", "RequestOtp")
    served = one(SpanKind.SERVER, "auth", "RequestOtp")
    published = one(SpanKind.PRODUCER, "auth", "publish")
    consumed = one(SpanKind.CONSUMER, "sender-email", f"consume {EMAIL_PRIORITY}")
    chain = [request, call, served, published, consumed]
    assert {span.context.trace_id for span in chain} == {request.context.trace_id}
    assert request.parent is None
    for parent, child in zip(chain, chain[1:], strict=False):
        assert child.parent is not None and child.parent.span_id == parent.context.span_id, (parent.name, child.name)
    assert request.attributes["postman.request_id"] == response.headers["X-Request-Id"]
    # The service's log line of that call names the trace, to go from a log line to its trace.
    sent = [line for line in capfd.readouterr().out.splitlines() if "one-time password sent" in line]
    assert len(sent) == 1 and f"trace_id={request.context.trace_id:032x}" in sent[0]


def test_an_outbox_message_carries_the_ids_and_trace_of_its_writer_not_of_its_flusher(
        stores, database, amqp_channel, spans):
    from postman_campaign import models
    from postman_shared import outbox

    publisher = Publisher(stores.amqp_url, app_id="campaign")
    relay = outbox.OutboxRelay(database, models.outbox, publisher)
    try:
        with correlation.bound(request_id="writer-1"), tracing.tracer("campaign").start_as_current_span("send") as span:
            with database.unit_of_work() as session:
                outbox.write(session, models.outbox, CAMPAIGN_SEND, "job-outbox-1",
                             {"job_id": 11, "campaign_id": 12, "user_id": 1})
            writer_trace = span.get_span_context().trace_id
        with correlation.bound(request_id="flusher-2", campaign_id=99):
            assert relay.flush() >= 1
    finally:
        publisher.close()
    headers = None
    for _ in range(50):
        method, properties, _body = amqp_channel.basic_get(CAMPAIGN_SEND, auto_ack=True)
        if method is not None and properties.message_id == "job-outbox-1":
            headers = properties.headers
            break
    assert headers is not None
    assert (headers["x-postman-request-id"], headers["x-postman-campaign-id"], headers["x-postman-job-id"]) == (
        "writer-1", 12, 11)
    assert headers["traceparent"].split("-")[1] == f"{writer_trace:032x}"

"""Correlation ids and tracing settings, without a broker: what is accepted, what a batch binds, what a message
carries, and that a worker pool's tasks neither lose nor leak their ids."""

from __future__ import annotations

import pytest
import structlog

from postman_shared import correlation, tracing
from postman_shared.broker.consumer import Delivery, shared_ids
from postman_shared.broker.publisher import OutgoingMessage, _headers
from postman_shared.runtime import ContextPool
from postman_shared.settings import Settings, SettingsError


@pytest.mark.parametrize("value", ["a", "req-1", "abc.DEF:9_x-y", "x" * 128])
def test_a_well_formed_request_id_is_accepted(value):
    assert correlation.well_formed_request_id(value)


@pytest.mark.parametrize("value", ["", "x" * 129, "has space", "new\nline", "sn\u2603wman", "semi;colon", "a/b"])
def test_a_malformed_request_id_is_refused(value):
    assert not correlation.well_formed_request_id(value)


def _delivery(tag: int, **headers) -> Delivery:
    return Delivery(delivery_tag=tag, message_id=f"m{tag}", redelivered=False, body=b"{}", headers=headers)


def test_a_batch_binds_only_the_ids_all_its_messages_share():
    same = {"x-postman-request-id": "r1", "x-postman-campaign-id": 5}
    assert shared_ids([_delivery(1, **same), _delivery(2, **same)]) == {"request_id": "r1", "campaign_id": 5}
    mixed = [_delivery(1, **same), _delivery(2, **{"x-postman-request-id": "r2", "x-postman-campaign-id": 5})]
    assert shared_ids(mixed) == {"campaign_id": 5}
    assert shared_ids([_delivery(1, **same), _delivery(2)]) == {}
    # A header a caller could fill with anything is bound only when it is a sane id.
    assert shared_ids([_delivery(1, **{"x-postman-request-id": "bad value\n"})]) == {}


def test_a_message_carries_its_context_ids_its_bodys_campaign_and_job_and_its_own_headers_last():
    with correlation.bound(request_id="r1", campaign_id=1):
        common = correlation.amqp_headers()
    message = OutgoingMessage("q", {"campaign_id": 2, "job_id": 3}, "m1", headers={"x-postman-attempt": 2})
    assert _headers(message, common) == {"x-postman-request-id": "r1", "x-postman-campaign-id": 2,
                                         "x-postman-job-id": 3, "x-postman-attempt": 2}
    assert _headers(OutgoingMessage("q", b"raw", "m2"), {}) == {}


def test_bound_ids_are_unbound_after_the_block_and_empty_ones_not_bound():
    with correlation.bound(request_id="r1", job_id=None, campaign_id=""):
        assert correlation.current() == {"request_id": "r1"}
    assert correlation.current() == {}


def test_a_pool_task_runs_with_its_submitters_ids_and_leaves_none_behind():
    structlog.contextvars.clear_contextvars()
    with ContextPool(max_workers=1) as pool:
        with correlation.bound(request_id="r1", campaign_id=7):
            first = pool.submit(correlation.current).result()

        def binds_its_own() -> dict:
            structlog.contextvars.bind_contextvars(job_id=99)
            return correlation.current()

        bound_inside = pool.submit(binds_its_own).result()
        after = pool.submit(correlation.current).result()  # the same worker thread
    assert first == {"request_id": "r1", "campaign_id": 7}
    assert bound_inside == {"job_id": 99}
    assert after == {}


def test_tracing_is_off_by_default_and_set_by_an_http_endpoint():
    assert Settings.from_env({}).otel_exporter_otlp_endpoint == ""
    assert not tracing.enabled()
    settings = Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
                                  "OTEL_TRACES_SAMPLER_ARG": "0.25"})
    assert (settings.otel_exporter_otlp_endpoint, settings.otel_traces_sampler_arg) == ("http://collector:4318", 0.25)


@pytest.mark.parametrize(("name", "value"), [("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
                                             ("OTEL_TRACES_SAMPLER_ARG", "1.5"), ("OTEL_TRACES_SAMPLER_ARG", "-1")])
def test_bad_tracing_settings_are_refused_with_the_settings_name(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_with_an_endpoint_spans_are_exported_over_otlp_http_to_it():
    import http.server
    import threading

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: list[tuple[str, str, bytes]] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        tracing.configure_tracing(Settings.from_env(
            {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}"}))
        assert tracing.enabled()
        with tracing.tracer("renderer").start_as_current_span("consume campaign.send"):
            pass
        tracing.flush()
    finally:
        tracing.disable()
        server.shutdown()
        server.server_close()
    assert [(path, content_type) for path, content_type, _ in received] == [("/v1/traces", "application/x-protobuf")]
    exported = ExportTraceServiceRequest.FromString(received[0][2])
    resource = {a.key: a.value.string_value for a in exported.resource_spans[0].resource.attributes}
    assert resource["service.name"] == "renderer"
    assert [s.name for s in exported.resource_spans[0].scope_spans[0].spans] == ["consume campaign.send"]


def test_a_consumed_batch_continues_its_messages_trace_or_links_the_traces_it_mixes():
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from postman_shared.broker.consumer import _consume_span

    def traceparent(trace_id: int, span_id: int) -> str:
        return f"00-{trace_id:032x}-{span_id:016x}-01"

    exporter = InMemorySpanExporter()
    tracing.enable(lambda: SimpleSpanProcessor(exporter))
    try:
        one_trace = [_delivery(1, traceparent=traceparent(7, 1)), _delivery(2, traceparent=traceparent(7, 2))]
        with _consume_span("sender-email", "email.send", one_trace):
            pass
        mixed = [_delivery(1, traceparent=traceparent(7, 1)), _delivery(2, traceparent=traceparent(8, 3))]
        with _consume_span("sender-email", "email.send", mixed):
            pass
        with _consume_span("sender-email", "email.send", [*one_trace, _delivery(3)]):  # one untraced message
            pass
    finally:
        tracing.disable()
    continued, own, partly = exporter.get_finished_spans()
    assert (continued.context.trace_id, continued.parent.span_id) == (7, 1)
    assert [(link.context.trace_id, link.context.span_id) for link in continued.links] == [(7, 2)]
    assert own.parent is None and own.context.trace_id not in (7, 8)
    assert [(link.context.trace_id, link.context.span_id) for link in own.links] == [(7, 1), (8, 3)]
    assert partly.parent is None and len(partly.links) == 2

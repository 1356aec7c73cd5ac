"""A campaign's send followed by its logs and its trace: from the gateway's request, through the campaign service,
its outbox, the renderer and sender-email (issue 14: logs and traces)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from postman_shared import tracing
from postman_shared.broker.topology import CAMPAIGN_SEND, EMAIL_SEND
from tests.conftest import TESTDATA
from tests.integration.gateway.conftest import upload_file
from tests.support.inprocess import running

TEMPLATE = {"subject": "Hello {{name}}", "body": "<p>Dear {{name}}, {{appointment}}</p>", "reply_to": None,
            "from": "Postman <donotreply@mail.postman.gov.sg>"}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.enable(lambda: SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        tracing.disable()


def test_a_campaign_send_is_one_trace_and_its_request_id_reaches_the_renderers_and_senders_logs(
        settings, http, new_caller, amqp_channel, spans, capfd):
    caller = new_caller()
    with running(settings, "auth", "campaign", "renderer", "stats", "sender-email"):
        campaign_id = http.post("/v1/campaigns", headers=caller.headers,
                                json={"name": "traced", "type": "EMAIL"}).json["id"]
        assert http.put(f"/v1/campaign/{campaign_id}/email/template", headers=caller.headers,
                        json=TEMPLATE).status_code == 200
        upload_file(http, caller, campaign_id, TESTDATA / "email_basic.csv")
        sent = http.post(f"/v1/campaign/{campaign_id}/email/send", headers={**caller.headers,
                                                                          "X-Request-Id": "send-trace-1"}, json={})
        assert sent.status_code == 200, sent.json
        deadline = time.monotonic() + 60
        while not any(s.name == f"consume {EMAIL_SEND}" for s in spans.get_finished_spans()):
            assert time.monotonic() < deadline, [s.name for s in spans.get_finished_spans()]
            time.sleep(0.1)
        delivered = ""
        while "batch delivered" not in delivered:
            assert time.monotonic() < deadline, "sender-email logged no delivered batch"
            delivered += capfd.readouterr().out
            time.sleep(0.1)
    finished = spans.get_finished_spans()
    request = [s for s in finished if s.kind == SpanKind.SERVER and s.resource.attributes["service.name"] == "gateway"
               and s.attributes.get("postman.request_id") == "send-trace-1"]
    assert len(request) == 1
    trace_id = request[0].context.trace_id
    in_trace = {(s.resource.attributes["service.name"], s.kind, s.name.split("/")[-1])
                for s in finished if s.context.trace_id == trace_id}
    assert {("campaign", SpanKind.SERVER, "SendCampaign"), ("renderer", SpanKind.CONSUMER, f"consume {CAMPAIGN_SEND}"),
            ("renderer", SpanKind.PRODUCER, "publish"),
            ("sender-email", SpanKind.CONSUMER, f"consume {EMAIL_SEND}")} <= in_trace, in_trace
    lines = delivered.splitlines()
    for service, event in (("renderer", "job rendered"), ("sender-email", "batch delivered")):
        found = [line for line in lines if event in line and f"service={service}" in line]
        assert found and all("request_id=send-trace-1" in line and f"campaign_id={campaign_id}" in line
                             for line in found), (service, found)

"""Every failure is JSON {code, message} with the contract's status; a person can tell what to fix."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from postman_gateway.core.observability import EXTENSION as METRICS

pytestmark = pytest.mark.usefixtures("auth_service")


@pytest.fixture
def settings(module_auth_service):
    """The module's settings: its tests share the auth service, started once (each test has its own app)."""
    return module_auth_service


@pytest.fixture
def auth_service(module_auth_service):
    """The module's auth service."""


def test_ping_needs_no_key(http):
    response = http.get("/v1/ping")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "pong"


def test_missing_key_is_401_unathenticated_as_the_contract_spells_it(http):
    response = http.get("/v1/campaigns")
    assert response.status_code == 401
    assert response.json["code"] == "unathenticated"
    assert "Bearer" in response.json["message"]


def test_unknown_key_is_401(http):
    response = http.get("/v1/campaigns", headers={"Authorization": "Bearer live_v1_" + "x" * 40})
    assert response.status_code == 401
    assert response.json == {"code": "unathenticated", "message": "Invalid API key"}


@pytest.mark.parametrize("header", ["bearer {key}", "Basic {key}", "{key}", "Bearer", "Bearer  ", "Bearer {key} x"])
def test_the_scheme_must_be_exactly_bearer(http, new_caller, header):
    caller = new_caller()
    response = http.get("/v1/campaigns", headers={"Authorization": header.format(key=caller.key)})
    assert response.status_code == 401
    assert response.json["code"] == "unathenticated"


def test_header_name_is_case_insensitive_like_the_nodemailer_transport_sends_it(http, new_caller):
    caller = new_caller()
    response = http.post("/v1/campaigns", headers={"authorization": f"Bearer {caller.key}"}, json={"type": "EMAIL"})
    # Past authentication: the missing name is what is reported.
    assert response.status_code == 400
    assert response.json["code"] == "api_validation"


def test_unknown_route_is_json_404(http):
    response = http.get("/v1/nowhere")
    assert response.status_code == 404
    assert response.json == {"code": "not_found", "message": "There is no GET /v1/nowhere"}


def test_wrong_method_is_json_405_listing_the_allowed_ones(http):
    response = http.delete("/v1/ping")
    assert response.status_code == 405
    assert response.json["code"] == "method_not_allowed"
    assert "GET" in response.json["message"]
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_400_with_line_and_column(http, new_caller):
    caller = new_caller()
    response = http.post("/v1/campaigns", headers={**caller.headers, "Content-Type": "application/json"},
                         data='{"name": "x",\n "type": EMAIL}')
    assert response.status_code == 400
    assert response.json["code"] == "malformed"
    assert "line 2" in response.json["message"]
    assert "column 10" in response.json["message"]


def test_a_json_array_body_is_refused(http, new_caller):
    response = http.post("/v1/campaigns", headers=new_caller().headers, json=["EMAIL"])
    assert response.status_code == 400
    assert response.json["code"] == "api_validation"


@pytest.mark.parametrize(("body", "field"), [
    ({"type": "EMAIL"}, '"name"'),
    ({"name": "", "type": "EMAIL"}, '"name"'),
    ({"name": "Reminders"}, '"type"'),
    ({"name": "Reminders", "type": "FAX"}, '"type"'),
    ({"name": "Reminders", "type": "EMAIL", "protect": "yes"}, '"protect"'),
])
def test_invalid_campaign_fields_are_400_naming_the_field(http, new_caller, body, field):
    response = http.post("/v1/campaigns", headers=new_caller().headers, json=body)
    assert response.status_code == 400
    assert response.json["code"] == "api_validation"
    assert field in response.json["message"]


@pytest.mark.parametrize(("query", "field"), [
    ("limit=0", '"limit"'), ("limit=101", '"limit"'), ("limit=ten", '"limit"'), ("offset=-1", '"offset"'),
    ("type=FAX", '"type"'), ("status=Done", '"status"'), ("sort_by=name", '"sort_by"'), ("order_by=up", '"order_by"'),
])
def test_invalid_list_parameters_are_400_naming_the_parameter(http, new_caller, query, field):
    response = http.get(f"/v1/campaigns?{query}", headers=new_caller().headers)
    assert response.status_code == 400
    assert response.json["code"] == "api_validation"
    assert field in response.json["message"]


@pytest.mark.parametrize("campaign_id", ["abc", "0", "-3", "1.5", "99999999999999999999"])
def test_a_campaign_id_that_is_not_a_positive_whole_number_is_400(http, new_caller, campaign_id):
    response = http.get(f"/v1/campaign/{campaign_id}/email", headers=new_caller().headers)
    assert response.status_code == 400
    assert response.json["code"] == "api_validation"
    assert "campaignId" in response.json["message"]


def test_template_reply_to_key_is_required_even_though_it_may_be_null(http, new_caller):
    response = http.put("/v1/campaign/1/email/template", headers=new_caller().headers,
                        json={"subject": "Hello", "body": "Hi {{name}}", "from": "Postman <a@b.gov.sg>"})
    assert response.status_code == 400
    assert '"reply_to"' in response.json["message"]


def test_upload_start_needs_mime_type_and_md5(http, new_caller):
    response = http.get("/v1/campaign/1/email/upload/start?mime_type=text/csv", headers=new_caller().headers)
    assert response.status_code == 400
    assert '"md5"' in response.json["message"]


def test_an_unexpected_exception_is_a_json_500_with_the_request_id_and_no_trace(app):
    def explode():
        raise RuntimeError("secret internals")

    app.add_url_rule("/explode", "explode", explode)
    response = app.test_client().get("/explode", headers={"X-Request-Id": "req-123"})
    assert response.status_code == 500
    assert response.json == {"code": "internal_server", "message": "Internal server error (request id req-123)"}


def test_request_id_is_echoed_or_made_up(http):
    assert http.get("/v1/ping", headers={"X-Request-Id": "abc-1"}).headers["X-Request-Id"] == "abc-1"
    made_up = http.get("/v1/ping", headers={"X-Request-Id": "not a sane id\u2603"}).headers["X-Request-Id"]
    assert made_up and made_up != "not a sane id\u2603"


def test_metrics_count_requests_by_route_template_and_status(app, http, new_caller):
    headers = new_caller().headers
    http.get("/v1/ping")
    http.get("/v1/campaign/7/email/upload/start", headers=headers)
    http.get("/v1/campaign/8/email/upload/start", headers=headers)
    assert http.get("/metrics").status_code == 404  # not on the public port: the metrics port serves them
    scrape = Client(app.extensions[METRICS].wsgi_app()).get("/metrics")
    text = scrape.get_data(as_text=True)
    assert 'gateway_requests_total{method="GET",route="/v1/ping",status="200"} 1.0' in text
    assert ('gateway_requests_total{method="GET",route="/v1/campaign/<campaign_id>/email/upload/start",'
            'status="400"} 2.0') in text
    assert "gateway_request_seconds_bucket" in text


def test_made_up_http_methods_share_one_metric_label(app, http):
    for method in ("BREW", "XYZZY1", "XYZZY2"):
        assert http.open("/v1/ping", method=method).status_code == 405
    text = Client(app.extensions[METRICS].wsgi_app()).get("/metrics").get_data(as_text=True)
    assert 'gateway_requests_total{method="OTHER",route="unmatched",status="405"} 3.0' in text
    assert "XYZZY" not in text and "BREW" not in text


def test_the_client_ip_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(settings):
    from dataclasses import replace

    from postman_gateway.app import create_app
    from postman_gateway.core.auth import client_ip

    forwarded = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}  # a client-supplied hop, then the proxy's
    for proxies, expected in ((0, "10.0.0.9"), (1, "203.0.113.7"), (2, "198.51.100.1")):
        app = create_app(replace(settings, trusted_proxies=proxies))
        app.add_url_rule("/test-client-ip", "test_client_ip", client_ip)
        answer = app.test_client().get("/test-client-ip", headers=forwarded, environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert answer.get_data(as_text=True) == expected, proxies

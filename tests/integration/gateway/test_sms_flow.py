"""An SMS campaign driven through the public API the way the Postman client drives it, up to (not including) send."""

from __future__ import annotations

import pytest

from tests.conftest import TESTDATA
from tests.integration.gateway.conftest import upload_file

pytestmark = pytest.mark.usefixtures("pipeline")


@pytest.fixture
def settings(module_pipeline):
    """The module's settings: its tests share the pipeline, started once (each test has its own app and callers)."""
    return module_pipeline


@pytest.fixture
def pipeline(module_pipeline):
    """The module's pipeline."""


TEMPLATE = {"body": "Dear {{name}}, your appointment is tomorrow."}


def create_campaign(http, caller, channel="SMS"):
    response = http.post("/v1/campaigns", headers=caller.headers, json={"name": "SMS reminders", "type": channel})
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_full_sms_flow_up_to_send(http, caller):
    campaign_id = create_campaign(http, caller)
    base = f"/v1/campaign/{campaign_id}/sms"

    template = http.put(f"{base}/template", headers=caller.headers, json=TEMPLATE)
    assert template.status_code == 200, template.json
    assert template.json["valid"] is False and template.json["num_recipients"] == 0
    assert template.json["template"] == {"body": TEMPLATE["body"], "params": ["name"], "segments": 1,
                                         "encoding": "GSM-7"}

    status = upload_file(http, caller, campaign_id, TESTDATA / "sms_sg_numbers.csv", channel="sms")
    assert status["num_recipients"] == 6 and status["csv_filename"] == "sms_sg_numbers.csv", status
    assert "csv_error" not in status
    assert status["preview"] == {"body": "Dear A, your appointment is tomorrow.", "segments": 1, "encoding": "GSM-7"}

    preview = http.get(f"{base}/preview", headers=caller.headers)
    assert preview.status_code == 200, preview.json
    assert preview.json == {"preview": {"body": "Dear A, your appointment is tomorrow.", "segments": 1,
                                        "encoding": "GSM-7"}}

    details = http.get(base, headers=caller.headers)
    assert details.status_code == 200, details.json
    assert details.json["type"] == "SMS" and details.json["valid"] is True
    assert details.json["num_recipients"] == 6 and details.json["csv_filename"] == "sms_sg_numbers.csv"
    assert details.json["has_credential"] is False and details.json["job_queue"] == []
    assert details.json["sms_templates"] == {"body": TEMPLATE["body"], "params": ["name"], "segments": 1,
                                             "encoding": "GSM-7"}
    assert "protect" not in details.json


def test_a_long_unicode_template_reports_its_segments(http, caller):
    base = f"/v1/campaign/{create_campaign(http, caller)}/sms"
    saved = http.put(f"{base}/template", headers=caller.headers, json={"body": "Hello {{name}} 😀 " + "x" * 200})
    assert saved.status_code == 200, saved.json
    assert saved.json["template"]["encoding"] == "UCS-2" and saved.json["template"]["segments"] > 1


def test_a_template_without_a_body_is_refused(http, caller):
    base = f"/v1/campaign/{create_campaign(http, caller)}/sms"
    response = http.put(f"{base}/template", headers=caller.headers, json={})
    assert response.status_code == 400 and response.json["code"] == "api_validation"
    assert "body" in response.json["message"]


@pytest.mark.parametrize("channel, path, method, json", [
    ("SMS", "email", "GET", None),
    ("SMS", "email/template", "PUT", {"subject": "Hi", "body": "<p>Hi</p>", "reply_to": None,
                                      "from": "Postman <donotreply@mail.postman.gov.sg>"}),
    ("SMS", "email/preview", "GET", None),
    ("EMAIL", "sms", "GET", None),
    ("EMAIL", "sms/template", "PUT", TEMPLATE),
    ("EMAIL", "sms/preview", "GET", None),
    ("SMS", "email/upload/start?mime_type=text/csv&md5=x", "GET", None),
    ("SMS", "email/upload/complete", "POST", {"transaction_id": "t", "filename": "f.csv"}),
    ("SMS", "email/upload/status", "GET", None),
    ("EMAIL", "sms/upload/start?mime_type=text/csv&md5=x", "GET", None),
    ("EMAIL", "sms/upload/complete", "POST", {"transaction_id": "t", "filename": "f.csv"}),
    ("EMAIL", "sms/upload/status", "GET", None),
])
def test_a_route_of_another_channel_is_refused_naming_the_campaigns_channel(http, caller, channel, path, method,
                                                                             json):
    campaign_id = create_campaign(http, caller, channel)
    response = http.open(f"/v1/campaign/{campaign_id}/{path}", method=method, headers=caller.headers, json=json)
    assert response.status_code == 400 and response.json["code"] == "invalid_parameters"
    assert f"Campaign {campaign_id} is an {channel} campaign" in response.json["message"]

"""An email campaign driven through the public API the way the Postman client drives it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from postman_auth import api_keys
from postman_auth.models import AuditEvent
from postman_shared.broker.topology import CAMPAIGN_SEND, EXCHANGE
from tests.conftest import TESTDATA
from tests.integration.gateway.conftest import Caller, poll, upload_file
from tests.support.agencies import officer_of_new_agency

pytestmark = pytest.mark.usefixtures("pipeline")


@pytest.fixture
def settings(module_pipeline):
    """The module's settings: its tests share the pipeline, started once (each test has its own app and callers)."""
    return module_pipeline


@pytest.fixture
def pipeline(module_pipeline):
    """The module's pipeline."""


FROM = "Postman <donotreply@mail.postman.gov.sg>"
TEMPLATE = {
    "subject": "Your appointment, {{name}}",
    "body": "<p>Dear {{name}},</p><p>See you on {{appointment}}.</p>",
    "reply_to": None,
    "from": FROM,
}
BASIC_RECIPIENTS = {f"officer{i}@example.gov.sg" for i in range(5)}


@pytest.fixture
def send_tap(amqp_channel):
    """A private queue bound like campaign.send, so the test sees each SendJob even while the renderer consumes."""
    queue = amqp_channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
    amqp_channel.queue_bind(queue, EXCHANGE, routing_key=CAMPAIGN_SEND)

    def next_job():
        method, properties, body = poll(lambda: amqp_channel.basic_get(queue, auto_ack=True),
                                        lambda got: got[0] is not None, "a SendJob on campaign.send")
        return properties, json.loads(body)

    return next_job


def create_campaign(http, caller, name="Appointment reminders"):
    response = http.post("/v1/campaigns", headers=caller.headers, json={"name": name, "type": "EMAIL"})
    assert response.status_code == 201, response.json
    return response.json


def test_create_then_list_shows_campaign_meta(http, caller):
    created = create_campaign(http, caller)
    assert created["name"] == "Appointment reminders"
    assert created["type"] == "EMAIL"
    assert created["protect"] is False
    assert created["job_queue"] == []
    assert created["created_at"].endswith("Z")

    listed = http.get("/v1/campaigns?limit=5&type=EMAIL&status=Draft", headers=caller.headers)
    assert listed.status_code == 200
    assert listed.json["total_count"] == 1
    assert [c["id"] for c in listed.json["campaigns"]] == [created["id"]]


def audit_trail(database, user_id, action):
    with database.session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.user_id == user_id,
                                                          AuditEvent.action == action)).all()
        return [(e.target_type, e.target_id, e.ip, e.details) for e in events]


def test_full_email_flow(http, caller, settings, send_tap, database):
    campaign_id = create_campaign(http, caller)["id"]
    base = f"/v1/campaign/{campaign_id}/email"

    template = http.put(f"{base}/template", headers=caller.headers, json=TEMPLATE)
    assert template.status_code == 200, template.json
    assert template.json["valid"] is False
    assert template.json["num_recipients"] == 0
    assert set(template.json["template"]["params"]) == {"name", "appointment"}
    assert template.json["template"]["from"] == FROM
    assert template.json["template"]["reply_to"] is None
    assert template.json["template"]["show_logo"] is True  # not given: true

    status = upload_file(http, caller, campaign_id, TESTDATA / "email_basic.csv")
    assert status["num_recipients"] == 5, status
    assert status["csv_filename"] == "email_basic.csv"
    assert "csv_error" not in status
    assert status["preview"]["subject"] == "Your appointment, Tan Ah Kow"
    assert "Tan Ah Kow" in status["preview"]["body"]
    assert status["preview"]["from"] == FROM
    assert set(status["preview"]) == {"subject", "body", "replyTo", "from", "showMasthead", "agencyLogoURI",
                                      "agencyName", "themedBody"}
    # The caller's address is in no agency's domain: the default agency, no logo; .gov.sg: the masthead.
    assert (status["preview"]["agencyName"], status["preview"]["agencyLogoURI"], status["preview"]["showMasthead"]) \
        == (settings.default_agency_name, "", True)
    assert status["preview"]["body"] in status["preview"]["themedBody"]

    preview = http.get(f"{base}/preview", headers=caller.headers)
    assert preview.status_code == 200
    assert set(preview.json["preview"]) == {"body", "subject", "reply_to", "from", "themed_body"}
    assert "2026-12-01 10:00" in preview.json["preview"]["body"]
    assert preview.json["preview"]["themed_body"] == status["preview"]["themedBody"]
    assert preview.json["preview"]["themed_body"].startswith("<!DOCTYPE html>")

    details = http.get(base, headers=caller.headers).json
    assert details["valid"] is True
    assert details["num_recipients"] == 5
    assert details["csv_filename"] == "email_basic.csv"
    assert details["is_csv_processing"] is False
    assert set(details["email_templates"]["params"]) == {"name", "appointment"}

    # axios sends a POST without data as an empty form-encoded body.
    sent = http.post(f"{base}/send", headers={**caller.headers,
                                              "Content-Type": "application/x-www-form-urlencoded"})
    assert sent.status_code == 200, sent.json
    assert sent.json["campaign_id"] == campaign_id
    assert len(sent.json["job_id"]) == 1
    properties, job = send_tap()
    assert job == {"job_id": sent.json["job_id"][0], "campaign_id": campaign_id, "user_id": caller.user_id}
    assert properties.message_id == f"job-{job['job_id']}"
    assert audit_trail(database, caller.user_id, "campaign.sent") == [
        ("campaign", str(campaign_id), "127.0.0.1", {"job_ids": sent.json["job_id"]})]

    stats = http.get(f"{base}/stats", headers=caller.headers)
    assert stats.status_code == 200, stats.json
    counters = stats.json
    assert counters["unsent"] + counters["sent"] + counters["error"] + counters["invalid"] == 5
    assert counters["invalid"] == 0
    assert counters["status"] in ("ENQUEUED", "SENDING", "SENT", "LOGGED")
    assert set(counters) == {"error", "unsent", "sent", "invalid", "unsubscribed", "halted", "redacted", "status",
                             "updated_at", "outcomes"}

    again = http.post(f"{base}/send", headers=caller.headers, json={})
    assert again.status_code == 403
    assert again.json["code"] == "already_sent"

    exported = http.get(f"{base}/export", headers=caller.headers)
    assert exported.status_code == 200
    rows = json.loads(exported.get_data(as_text=True))
    assert {row["recipient"] for row in rows} == BASIC_RECIPIENTS
    assert set(rows[0]) == {"recipient", "status", "error_code", "updated_at", "unsubscriber.recipient",
                            "unsubscriber.reason", "error_sub_type"}


def test_a_bad_file_is_reported_in_csv_error_with_its_line(http, caller):
    campaign_id = create_campaign(http, caller)["id"]
    status = upload_file(http, caller, campaign_id, TESTDATA / "bad_ragged_row.csv")
    assert "line 3" in status["csv_error"]
    assert status["num_recipients"] == 0
    details = http.get(f"/v1/campaign/{campaign_id}/email", headers=caller.headers).json
    assert details["valid"] is False


def test_a_bad_file_after_a_good_one_keeps_the_good_list(http, caller):
    campaign_id = create_campaign(http, caller)["id"]
    upload_file(http, caller, campaign_id, TESTDATA / "email_basic.csv")
    status = upload_file(http, caller, campaign_id, TESTDATA / "bad_latin1.csv")
    assert "UTF-8" in status["csv_error"]
    details = http.get(f"/v1/campaign/{campaign_id}/email", headers=caller.headers).json
    assert details["num_recipients"] == 5
    assert details["csv_filename"] == "email_basic.csv"


def test_sending_without_recipients_is_refused_with_a_reason(http, caller):
    campaign_id = create_campaign(http, caller)["id"]
    http.put(f"/v1/campaign/{campaign_id}/email/template", headers=caller.headers, json=TEMPLATE)
    response = http.post(f"/v1/campaign/{campaign_id}/email/send", headers=caller.headers)
    assert 400 <= response.status_code < 500
    assert response.json["message"]


def test_export_streams_an_empty_array_for_a_campaign_without_recipients(http, caller):
    campaign_id = create_campaign(http, caller)["id"]
    exported = http.get(f"/v1/campaign/{campaign_id}/email/export", headers=caller.headers)
    assert exported.status_code == 200
    assert json.loads(exported.get_data(as_text=True)) == []


def test_show_logo_is_stored_and_returned_and_the_previews_follow_it(http, caller, database):
    officer = officer_of_new_agency(database)
    with database.unit_of_work() as session:
        key = api_keys.create_api_key(session, api_keys.get_or_create_user(session, officer.email), label="test")
    headers = {"Authorization": f"Bearer {key}"}
    campaign_id = http.post("/v1/campaigns", headers=headers, json={"name": "Logo", "type": "EMAIL"}).json["id"]
    base = f"/v1/campaign/{campaign_id}/email"
    saved = http.put(f"{base}/template", headers=headers, json={**TEMPLATE, "show_logo": False})
    assert saved.status_code == 200 and saved.json["template"]["show_logo"] is False
    assert http.get(base, headers=headers).json["email_templates"]["show_logo"] is False
    upload_file(http, Caller(officer.user_id, key, officer.email), campaign_id, TESTDATA / "email_basic.csv")

    without = http.get(f"{base}/upload/status", headers=headers).json["preview"]
    assert (without["agencyName"], without["agencyLogoURI"]) == (officer.agency, "")
    assert "<img" not in without["themedBody"]

    assert http.put(f"{base}/template", headers=headers, json=TEMPLATE).json["template"]["show_logo"] is True
    shown = http.get(f"{base}/upload/status", headers=headers).json["preview"]
    assert (shown["agencyName"], shown["agencyLogoURI"], shown["showMasthead"]) == (
        officer.agency, officer.logo_uri, True)
    assert f'<img src="{officer.logo_uri}"' in shown["themedBody"]
    assert f'<img src="{officer.logo_uri}"' in http.get(f"{base}/preview", headers=headers).json["preview"][
        "themed_body"]


@pytest.mark.parametrize("value", ["yes", 1, "true", []])
def test_show_logo_must_be_true_or_false(http, caller, value):
    campaign_id = create_campaign(http, caller)["id"]
    refused = http.put(f"/v1/campaign/{campaign_id}/email/template", headers=caller.headers,
                       json={**TEMPLATE, "show_logo": value})
    assert refused.status_code == 400 and refused.json["code"] == "api_validation"
    assert "show_logo" in refused.json["message"]

"""Contract, sections 1, 4 and "Typical flows" 1-9 for email: an email campaign driven with the exact requests the
generated client makes (bodiless POSTs with axios' form content type, `{}` for an optional body left out, the
campaign id as a string path parameter), every answer checked against the served OpenAPI document."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from postman_shared.unsubscribe_links import UnsubscribeLinks
from tests.conftest import TESTDATA
from tests.contract.flows import (
    FROM,
    bodiless_post,
    create_campaign,
    empty_json_post,
    upload,
    wait_until_logged,
)

pytestmark = pytest.mark.usefixtures("system")

TEMPLATE = {"subject": "Your appointment, {{name}}", "body": "<p>Dear {{name}}, see you on {{appointment}}.</p>",
            "reply_to": None, "from": FROM}


def test_the_typical_email_flow_from_creation_to_export(api, caller):
    headers = caller.headers
    campaign_id = create_campaign(api, headers, "EMAIL", "Appointment reminders")  # flow 1
    base = f"/v1/campaign/{campaign_id}/email"

    template = api.put(f"{base}/template", headers=headers, json=TEMPLATE)  # flow 2
    assert template.status_code == 200, template.json
    assert sorted(template.json["template"]["params"]) == ["appointment", "name"]
    assert template.json["valid"] is False and template.json["num_recipients"] == 0

    unnamed = empty_json_post(api, f"{base}/upload/complete", headers)  # upload/complete without arguments
    assert unnamed.status_code == 400 and "transaction_id" in unnamed.json["message"], unnamed.json
    status = upload(api, headers, campaign_id, "email", (TESTDATA / "email_basic.csv").read_bytes(),
                    "email_basic.csv")  # flows 3-6
    assert status["num_recipients"] == 5 and status["csv_filename"] == "email_basic.csv" and "csv_error" not in status
    assert set(status["preview"]) >= {"subject", "body", "replyTo", "from"}  # camelCase, as the contract says
    assert status["preview"]["subject"] == "Your appointment, Tan Ah Kow"

    refused = empty_json_post(api, f"{base}/credentials", headers)  # the client called without arguments
    assert refused.status_code == 400 and refused.json["code"] == "invalid_recipient", refused.json
    tested = api.post(f"{base}/credentials", headers=headers, json={"recipient": "officer@agency.gov.sg"})
    assert tested.status_code == 200 and tested.json == {"message": "OK"}, tested.json

    preview = api.get(f"{base}/preview", headers=headers)
    assert preview.status_code == 200
    assert preview.json["preview"]["subject"] == "Your appointment, Tan Ah Kow"
    assert preview.json["preview"]["reply_to"] is None and preview.json["preview"]["from"] == FROM

    details = api.get(base, headers=headers)
    assert details.status_code == 200
    assert details.json["id"] == campaign_id and details.json["type"] == "EMAIL" and details.json["valid"] is True
    assert details.json["num_recipients"] == 5 and details.json["email_templates"]["subject"] == TEMPLATE["subject"]

    sent = bodiless_post(api, f"{base}/send", headers)  # flow 7: no data, form content type
    assert sent.status_code == 200, sent.json
    assert sent.json["campaign_id"] == campaign_id and len(sent.json["job_id"]) == 1
    again = bodiless_post(api, f"{base}/send", headers)
    assert again.status_code == 403 and again.json["code"] == "already_sent", again.json

    stats = wait_until_logged(api, headers, campaign_id, "email")  # flow 8
    assert (stats["sent"], stats["error"], stats["unsent"], stats["invalid"]) == (5, 0, 0, 0)
    assert stats["unsubscribed"] == 0
    recounted = bodiless_post(api, f"{base}/refresh-stats", headers)
    assert recounted.status_code == 200
    assert {k: recounted.json[k] for k in ("sent", "error", "unsent", "invalid", "status")} == {
        "sent": 5, "error": 0, "unsent": 0, "invalid": 0, "status": "LOGGED"}

    export = api.get(f"{base}/export", headers=headers)  # flow 9
    assert export.status_code == 200
    assert sorted(row["recipient"] for row in export.json) == [f"officer{i}@example.gov.sg" for i in range(5)]
    assert all(row["status"] == "SENT" and "unsubscriber.recipient" in row and "unsubscriber.reason" in row
               for row in export.json)

    retried = bodiless_post(api, f"{base}/retry", headers)
    assert retried.status_code == 200 and retried.json["campaign_id"] == campaign_id, retried.json

    deleting_a_sent_one = api.delete(f"/v1/campaigns/{campaign_id}", headers=headers)
    assert deleting_a_sent_one.status_code == 403 and deleting_a_sent_one.json["code"] == "already_sent"


def test_duplicate_rename_delete_and_what_this_platform_does_not_have(api, caller):
    headers = caller.headers
    campaign_id = create_campaign(api, headers, "EMAIL", "Original")
    base = f"/v1/campaign/{campaign_id}/email"
    assert api.put(f"{base}/template", headers=headers, json=TEMPLATE).status_code == 200

    copy = api.post(f"{base}/duplicate", headers=headers, json={"name": "Copy of Original"})
    assert copy.status_code == 201, copy.json
    assert copy.json["name"] == "Copy of Original" and copy.json["type"] == "EMAIL" and copy.json["id"] != campaign_id
    copied = api.get(f"/v1/campaign/{copy.json['id']}/email", headers=headers).json
    assert copied["email_templates"]["subject"] == TEMPLATE["subject"] and copied["num_recipients"] == 0
    nameless = empty_json_post(api, f"{base}/duplicate", headers)
    assert nameless.status_code == 400 and "name" in nameless.json["message"]

    renamed = api.put(f"/v1/campaigns/{campaign_id}", headers=headers,
                      json={"name": "Renamed", "should_save_list": True})  # should_save_list: accepted, ignored
    assert renamed.status_code == 200 and renamed.json["name"] == "Renamed" and renamed.json["id"] == campaign_id

    bad = upload(api, headers, campaign_id, "email", (TESTDATA / "bad_no_recipient_column.csv").read_bytes(),
                 "bad.csv")
    assert bad["csv_error"]
    cleared = api.delete(f"{base}/upload/status", headers=headers)
    assert cleared.status_code == 200 and cleared.json == {"id": str(campaign_id)}
    assert "csv_error" not in api.get(f"{base}/upload/status", headers=headers).json

    refused = api.open("POST", f"{base}/select-list", headers=headers, json={"list_id": 1})
    assert refused.status_code == 400 and refused.json["code"] == "invalid_parameters", refused.json
    assert "do not exist on this platform" in refused.json["message"]
    not_protected = api.get(f"{base}/protect/upload/start", headers=headers,
                            query_string={"mime_type": "text/csv", "part_count": 1})
    assert not_protected.status_code == 400 and "not password-protected" in not_protected.json["message"]
    protect_without_arguments = empty_json_post(api, f"{base}/protect/upload/complete", headers)
    assert protect_without_arguments.status_code == 400

    deleted = api.delete(f"/v1/campaigns/{copy.json['id']}", headers=headers)  # a draft
    assert deleted.status_code == 200 and deleted.json == {"id": str(copy.json["id"])}
    assert api.get(f"/v1/campaign/{copy.json['id']}/email", headers=headers).status_code == 404


def test_a_scheduled_send_waits_and_can_be_cancelled(api, caller):
    headers = caller.headers
    campaign_id = create_campaign(api, headers, "EMAIL", "Scheduled")
    base = f"/v1/campaign/{campaign_id}/email"
    assert api.put(f"{base}/template", headers=headers, json=TEMPLATE).status_code == 200
    upload(api, headers, campaign_id, "email", (TESTDATA / "email_basic.csv").read_bytes())

    nothing = bodiless_post(api, f"/v1/campaigns/{campaign_id}/cancel", headers)
    assert nothing.status_code == 400, nothing.json
    later = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    # The upstream server's callers send scheduledTiming in the form body the email client otherwise leaves empty.
    scheduled = api.post(f"{base}/send", headers=headers, data={"scheduledTiming": later})
    assert scheduled.status_code == 200, scheduled.json
    assert api.get(f"{base}/stats", headers=headers).json["status"] == "READY"
    listed = api.get("/v1/campaigns", headers=headers, query_string={"status": "Scheduled"}).json
    assert campaign_id in [c["id"] for c in listed["campaigns"]]

    cancelled = bodiless_post(api, f"/v1/campaigns/{campaign_id}/cancel", headers)
    assert cancelled.status_code == 200 and cancelled.json == {"id": str(campaign_id)}
    assert api.get(base, headers=headers).json["job_queue"] == []
    unparseable = api.post(f"{base}/send", headers=headers, json={"scheduledTiming": "tomorrow at nine"})
    assert unparseable.status_code == 400 and unparseable.json["code"] == "api_validation"


def test_the_campaign_list_filters_sorts_and_pages(api, new_caller):
    caller = new_caller()
    headers = caller.headers
    ids = [create_campaign(api, headers, channel, f"List {channel}") for channel in ("EMAIL", "SMS", "TELEGRAM")]

    everything = api.get("/v1/campaigns", headers=headers)
    assert everything.status_code == 200 and everything.json["total_count"] == 3
    assert [c["id"] for c in everything.json["campaigns"]] == ids[::-1]  # created_at, DESC by default
    oldest_first = api.get("/v1/campaigns", headers=headers, query_string={"order_by": "ASC", "sort_by": "created_at"})
    assert [c["id"] for c in oldest_first.json["campaigns"]] == ids
    page = api.get("/v1/campaigns", headers=headers, query_string={"limit": 1, "offset": 1})
    assert [c["id"] for c in page.json["campaigns"]] == [ids[1]] and page.json["total_count"] == 3
    sms = api.get("/v1/campaigns", headers=headers, query_string={"type": "SMS", "status": "Draft"})
    assert [c["id"] for c in sms.json["campaigns"]] == [ids[1]]
    named = api.get("/v1/campaigns", headers=headers, query_string={"name": "TELEGRAM"})
    assert [c["id"] for c in named.json["campaigns"]] == [ids[2]]
    for query, field in [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"type": "FAX"}, "type"),
                         ({"order_by": "UP"}, "order_by"), ({"sort_by": "name"}, "sort_by"),
                         ({"offset": 2**31}, "offset")]:  # found by the fuzzer: an offset past int32 was a 500
        refused = api.get("/v1/campaigns", headers=headers, query_string=query)
        assert refused.status_code == 400 and refused.json["code"] == "api_validation" and field in \
            refused.json["message"]


def test_errors_are_the_contracts_code_and_message(api, caller, new_caller):
    missing_key = api.get("/v1/campaigns")
    assert missing_key.status_code == 401 and missing_key.json["code"] == "unathenticated"
    assert set(missing_key.json) == {"code", "message"}
    stranger = new_caller()
    campaign_id = create_campaign(api, caller.headers, "EMAIL")
    others = api.get(f"/v1/campaign/{campaign_id}/email", headers=stranger.headers)
    assert others.status_code == 404 and others.json["code"] == "not_found"
    not_numeric = api.get("/v1/campaign/abc/email", headers=caller.headers)
    assert not_numeric.status_code == 400 and "campaignId" in not_numeric.json["message"]
    wrong_channel = api.get(f"/v1/campaign/{campaign_id}/sms", headers=caller.headers)
    assert wrong_channel.status_code == 400 and "EMAIL" in wrong_channel.json["message"]


def test_unsubscribe_through_upstreams_api_and_stop_of_a_finished_campaign(api, caller, contract_settings):
    """PUT and DELETE /v1/unsubscribe/{campaignId}/{recipient} as the unsubscribe page's client calls them (no key:
    the link's HMAC is the credential), and the stop extension refused for a campaign that is not sending."""
    headers = caller.headers
    campaign_id = create_campaign(api, headers, "EMAIL", "Newsletter")
    base = f"/v1/campaign/{campaign_id}/email"
    assert api.put(f"{base}/template", headers=headers, json=TEMPLATE).status_code == 200
    upload(api, headers, campaign_id, "email", (TESTDATA / "email_basic.csv").read_bytes(), "email_basic.csv")
    assert bodiless_post(api, f"{base}/send", headers).status_code == 200
    wait_until_logged(api, headers, campaign_id, "email")

    not_sending = bodiless_post(api, f"{base}/stop", headers)
    assert not_sending.status_code == 400 and not_sending.json["code"] == "invalid_parameters", not_sending.json
    assert "nothing to stop" in not_sending.json["message"]

    recipient = "officer0@example.gov.sg"
    version, digest = UnsubscribeLinks.from_settings(contract_settings).sign(campaign_id, recipient)
    path = f"/v1/unsubscribe/{campaign_id}/{quote(recipient)}"
    recorded = api.put(path, json={"h": digest, "v": version, "reason": "Too many emails"})
    assert recorded.status_code == 201, recorded.json
    assert (recorded.json["campaignId"], recorded.json["recipient"]) == (campaign_id, recipient)
    again = api.put(path, json={"h": digest, "v": version})
    assert again.status_code == 200 and again.json["createdAt"] == recorded.json["createdAt"], again.json
    forged = api.put(f"/v1/unsubscribe/{campaign_id}/{quote('officer1@example.gov.sg')}",
                     json={"h": digest, "v": version})
    assert forged.status_code == 400 and forged.json == {"code": "invalid_parameters",
                                                         "message": "Invalid unsubscribe request"}

    export = {row["recipient"]: row for row in api.get(f"{base}/export", headers=headers).json}
    assert (export[recipient]["unsubscriber.recipient"], export[recipient]["unsubscriber.reason"]) == (
        recipient, "Too many emails")
    assert export["officer1@example.gov.sg"]["unsubscriber.recipient"] is None

    resubscribed = api.delete(path, json={"h": digest, "v": version})
    assert resubscribed.status_code == 200 and resubscribed.json == {"campaignId": campaign_id,
                                                                     "recipient": recipient}

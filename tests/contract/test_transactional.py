"""Contract, sections 5 and 6: transactional email and SMS sent, listed and read back with the request shapes the
generated client and its nodemailer transport make (JSON bodies, `{}` for a send without arguments, repeated
`status=` keys, `created_at.gt=` and the upstream `created_at[gt]=`, repeated `sort_by=`), plus the multipart form
the spec also defines; every answer checked against the served document."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest

from tests.contract.conftest import TWILIO_ACCOUNT
from tests.contract.flows import FROM, create_campaign, empty_json_post

pytestmark = pytest.mark.usefixtures("system")

EMAIL = {"subject": "Your one-time password", "body": "<p>Your code is 123456</p>",
         "recipient": "someone@example.gov.sg"}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_a_transactional_email_is_accepted_and_read_back(api, caller):
    sent = api.post("/v1/transactional/email/send", headers=caller.headers,
                    json={**EMAIL, "cc": ["copy@example.gov.sg"], "bcc": [], "from": FROM,
                          "reply_to": "officer@agency.gov.sg", "classification": "for_info", "tag": "otp"})
    assert sent.status_code == 201, sent.json
    email = sent.json
    assert email["status"] == "ACCEPTED" and email["id"].isdigit() and email["recipient"] == EMAIL["recipient"]
    assert email["params"]["body"] == EMAIL["body"] and email["params"]["subject"] == EMAIL["subject"]
    assert email["classification"] == "FOR_INFO" and email["cc"] == ["copy@example.gov.sg"]

    got = api.get(f"/v1/transactional/email/{email['id']}", headers=caller.headers)
    assert got.status_code == 200 and got.json["id"] == email["id"] and got.json["status"] in ("ACCEPTED", "SENT")

    nothing = empty_json_post(api, "/v1/transactional/email/send", caller.headers)  # send() without arguments
    assert nothing.status_code == 400 and nothing.json["code"] == "api_validation", nothing.json
    as_json = api.post("/v1/transactional/email/send", headers=caller.headers,
                       json={**EMAIL, "attachments": ["letter.pdf"]})
    assert as_json.status_code == 400 and "multipart" in as_json.json["message"]
    assert api.get("/v1/transactional/email/abc", headers=caller.headers).status_code == 400
    assert api.get("/v1/transactional/email/999999999", headers=caller.headers).status_code == 404


def test_the_nodemailer_transports_exact_request(api, new_caller):
    """Section 6: lowercase `authorization`, `recipient` the first `to` entry verbatim, `from` of an address object
    with an empty name as " <addr>", cc and bcc always arrays, `body` the literal "undefined" without html or text."""
    caller = new_caller()
    body = {"subject": "Hello", "recipient": "Someone <someone@example.gov.sg>",
            "from": " <donotreply@mail.postman.gov.sg>", "reply_to": "officer@agency.gov.sg", "body": "undefined",
            "cc": [], "bcc": []}
    sent = api.post("/v1/transactional/email/send", json=body, headers={"authorization": f"Bearer {caller.key}"})
    assert sent.status_code == 201, sent.json
    # What the transport reads back: messageId, response and message.
    assert sent.json["id"] and sent.json["status"] == "ACCEPTED" and sent.json["params"]["body"] == "undefined"


def test_attachments_go_as_multipart_and_too_much_is_413(api, caller):
    sent = api.post("/v1/transactional/email/send", headers=caller.headers, content_type="multipart/form-data",
                    data={**EMAIL, "cc": '["copy@example.gov.sg"]', "disable_tracking": "true",
                          "attachments": [(io.BytesIO(PDF), "letter.pdf")]})
    assert sent.status_code == 201, sent.json
    [attachment] = sent.json["attachments_metadata"]
    assert attachment["fileName"] == "letter.pdf" and attachment["fileSize"] == len(PDF)

    disguised = api.post("/v1/transactional/email/send", headers=caller.headers, content_type="multipart/form-data",
                         data={**EMAIL, "attachments": [(io.BytesIO(b"MZ\x90\x00program"), "invoice.pdf")]})
    assert disguised.status_code == 400 and "invoice.pdf" in disguised.json["message"]
    too_much = api.post("/v1/transactional/email/send", headers=caller.headers, content_type="multipart/form-data",
                        data={**EMAIL, "attachments": [(io.BytesIO(b"%PDF-" + b"0" * (10 * 1024 * 1024)),
                                                        "big.pdf")]})
    assert too_much.status_code == 413 and too_much.json["code"] == "attachment_limit"


def test_the_email_list_reads_every_query_form_of_the_contract(api, new_caller):
    caller = new_caller()
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    ids = [api.post("/v1/transactional/email/send", headers=caller.headers,
                    json={**EMAIL, "subject": f"Message {n}"}).json["id"] for n in range(3)]
    path = "/v1/transactional/email"

    newest = api.get(path, headers=caller.headers, query_string={"limit": 2})
    assert newest.status_code == 200 and newest.json["has_more"] is True
    assert [m["id"] for m in newest.json["data"]] == ids[:0:-1]
    statuses = [(k, s) for k in ("status",) for s in ("ACCEPTED", "SENT", "DELIVERED")]
    oldest = api.get(path, headers=caller.headers, query_string=[*statuses, ("sort_by", "+created_at")])
    assert [m["id"] for m in oldest.json["data"]] == ids and oldest.json["has_more"] is False
    tomorrow = iso(datetime.now(timezone.utc) + timedelta(days=1))
    for bound in ("gt", "gte", "lt", "lte"):
        # the client's dotted form, then the upstream server's bracketed one
        for key in (f"created_at.{bound}", f"created_at[{bound}]"):
            found = api.get(path, headers=caller.headers, query_string={key: iso(before) if "g" in bound
                                                                        else tomorrow})
            assert found.status_code == 200 and sorted(m["id"] for m in found.json["data"]) == sorted(ids), key
            nothing = api.get(path, headers=caller.headers, query_string={key: tomorrow if "g" in bound
                                                                          else iso(before)})
            assert nothing.json["data"] == [], key
    window = api.get(path, headers=caller.headers,
                     query_string={"created_at.gte": iso(before), "created_at.lte": iso(datetime.now(timezone.utc))})
    assert sorted(m["id"] for m in window.json["data"]) == sorted(ids)
    none = api.get(path, headers=caller.headers, query_string=[("status", "BOUNCED"), ("status", "COMPLAINT")])
    assert none.json == {"has_more": False, "data": []}
    for query in ({"status": "LOST"}, {"sort_by": "name"}, {"limit": 0}, {"created_at.gt": "yesterday"}):
        refused = api.get(path, headers=caller.headers, query_string=query)
        assert refused.status_code == 400 and refused.json["code"] == "api_validation"


def test_a_transactional_sms_is_sent_with_a_saved_credential_and_listed(api, new_caller, twilio):
    caller = new_caller()
    base = f"/v1/campaign/{create_campaign(api, caller.headers, 'SMS')}/sms"
    saved = api.post(f"{base}/new-credentials", headers=caller.headers,
                     json={**TWILIO_ACCOUNT, "recipient": "+6587654321", "label": "alerts"})
    assert saved.status_code == 200, saved.json

    nothing = empty_json_post(api, "/v1/transactional/sms/send", caller.headers)
    assert nothing.status_code == 400 and nothing.json["code"] == "api_validation"
    sent = api.post("/v1/transactional/sms/send", headers=caller.headers,
                    json={"body": "Your code is 123456", "recipient": "9123 4567", "label": "alerts"})
    assert sent.status_code == 201 and sent.json["status"] == "ACCEPTED", sent.json
    assert sent.json["recipient"] == "+6591234567" and sent.json["credentials_label"] == "alerts"

    got = api.get(f"/v1/transactional/sms/{sent.json['id']}", headers=caller.headers)
    assert got.status_code == 200 and got.json["id"] == sent.json["id"]
    listed = api.get("/v1/transactional/sms", headers=caller.headers,
                     query_string=[("status", "ACCEPTED"), ("status", "SENT"), ("status", "DELIVERED"),
                                   ("created_at[gte]", sent.json["created_at"]), ("sort_by", "-created_at")])
    assert [m["id"] for m in listed.json["data"]] == [sent.json["id"]]
    dotted = api.get("/v1/transactional/sms", headers=caller.headers,
                     query_string={"created_at.lt": iso(datetime.now(timezone.utc) - timedelta(days=1))})
    assert dotted.status_code == 200 and dotted.json["data"] == []
    assert api.get("/v1/transactional/sms/abc", headers=caller.headers).status_code == 400
    assert api.get(f"/v1/transactional/sms/{sent.json['id']}", headers=new_caller().headers).status_code == 404

"""Contract, section 4 (18, 19) and Postman's protect API: a password-protected email campaign driven as an existing
integration drives it, every answer checked against the served OpenAPI document. The file is made the way such an
integration makes it (Postman's version 1 format, proven identical to Node's WebCrypto by the unit tests' vectors),
with fresh ids."""

from __future__ import annotations

import csv
import io
import uuid
from urllib.parse import urlsplit

import pytest

from postman_shared import protected_format
from tests.contract.flows import FROM, poll

pytestmark = pytest.mark.usefixtures("system")

RECIPIENTS = [("lim.wei@example.gov.sg", "S7654321B02031985", "<p>Your result is <b>negative</b>.</p>"),
              ("nur.aisyah@example.gov.sg", "T0234567C", "<p>Your result is ready for collection.</p>")]


def postman_file() -> tuple[bytes, list[tuple[str, str, str, str]]]:
    """(the CSV, [(id, password, message, passwordhash)]) as an integration encrypts it on its side."""
    out, made = io.StringIO(), []
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["recipient", "payload", "passwordhash", "id"])
    for recipient, password, message in RECIPIENTS:
        message_id = str(uuid.uuid4())
        sealed = protected_format.v1_seal(message, password, message_id)
        writer.writerow([recipient, sealed.payload, sealed.check, message_id])
        made.append((message_id, password, message, sealed.check))
    return out.getvalue().encode(), made


def test_a_protected_campaign_is_uploaded_in_parts_and_opened_by_its_recipients(api, caller):
    headers = caller.headers
    created = api.post("/v1/campaigns", headers=headers, json={"name": "Results", "type": "EMAIL", "protect": True})
    assert created.status_code == 201 and created.json["protect"] is True, created.json
    base = f"/v1/campaign/{created.json['id']}/email"
    template = api.put(f"{base}/template", headers=headers, json={
        "subject": "Your result", "body": "<p>Open {{protectedlink}}</p>", "reply_to": None, "from": FROM})
    assert template.status_code == 200, template.json

    content, made = postman_file()
    started = api.get(f"{base}/protect/upload/start", headers=headers,
                      query_string={"mime_type": "text/csv", "part_count": 1})
    assert started.status_code == 200 and len(started.json["presigned_urls"]) == 1, started.json
    url = urlsplit(started.json["presigned_urls"][0])
    put = api.put(f"{url.path}?{url.query}", data=content, headers={"Content-Type": "text/csv"})
    assert put.status_code == 200 and put.headers["ETag"]
    completed = api.post(f"{base}/protect/upload/complete", headers=headers, json={
        "filename": "results.csv", "transaction_id": started.json["transaction_id"], "part_count": 1,
        "etags": [put.headers["ETag"]]})
    assert completed.status_code == 202, completed.json
    status = poll(lambda: api.get(f"{base}/upload/status", headers=headers),
                  lambda r: not r.json["is_csv_processing"], "the protected file")
    assert status.json["num_recipients"] == 2 and "csv_error" not in status.json, status.json

    for message_id, password, message, proof in made:
        opened = api.post(f"/v1/protect/{message_id}", json={"password_hash": proof})
        assert opened.status_code == 200, opened.json
        assert protected_format.v1_open(opened.json["payload"], password, message_id) == message
    wrong = api.post(f"/v1/protect/{made[0][0]}", json={"password_hash": made[1][3]})
    assert (wrong.status_code, wrong.json["code"]) == (403, "wrong_password")
    empty = api.post(f"/v1/protect/{made[0][0]}", json={})
    assert empty.status_code == 400

"""End to end, every service its own process: a password-protected campaign made through the API with the file an
existing Postman integration sends (encrypted on its side by Node's WebCrypto, as Postman's frontend does). Each
recipient's email arrives with their own link and nothing of the message; the link's page and the protect API open
exactly their own message with their own password, and nothing with another's."""

from __future__ import annotations

import json
import re

import pytest
import requests
from sqlalchemy import delete

from postman_auth import api_keys
from postman_campaign.models import ProtectedMessage, ProtectedMessageAttempt
from postman_shared import protected_format
from tests.conftest import TESTDATA
from tests.support.api_client import PostmanApi

pytestmark = pytest.mark.e2e

VECTORS = json.loads((TESTDATA / "protected" / "vectors.json").read_text())
POSTMAN_FILE = (TESTDATA / "protected" / "postman_protected_upload.csv").read_bytes()
TEMPLATE_BODY = '<p>Dear {{recipient}},</p><p><a href="{{protectedlink}}">Open your result</a></p>'
_LINK = re.compile(r"https?://[^\s\"'<>]+/p/1/[0-9a-f-]{36}")


@pytest.fixture(autouse=True)
def vector_ids_unused(database):
    """The vectors' ids are bound to their ciphertext (v1's salt is the id): free them for this test."""
    ids = [v["id"] for v in VECTORS]
    with database.unit_of_work() as session:
        session.execute(delete(ProtectedMessage).where(ProtectedMessage.id.in_(ids)))
        session.execute(delete(ProtectedMessageAttempt).where(ProtectedMessageAttempt.message_id.in_(ids)))


def test_each_recipient_gets_a_link_and_opens_only_their_own_message(system, smtp, database):
    with database.unit_of_work() as session:
        key = api_keys.create_api_key(session, api_keys.get_or_create_user(session, "lab@agency.gov.sg"), "e2e")
    api = PostmanApi(system.gateway_url, key)
    created = api.call("POST", "/v1/campaigns", 201, json={"name": "Test results", "type": "EMAIL", "protect": True})
    campaign_id = created["id"]
    base = f"/v1/campaign/{campaign_id}/email"
    api.call("PUT", f"{base}/template", json={
        "subject": "Your test result is ready", "reply_to": None, "from": "Postman <donotreply@mail.postman.gov.sg>",
        "body": TEMPLATE_BODY})

    started = api.call("GET", f"{base}/protect/upload/start", params={"mime_type": "text/csv", "part_count": 1})
    put = requests.put(started["presigned_urls"][0], data=POSTMAN_FILE, headers={"Content-Type": "text/csv"},
                       timeout=30)
    assert put.status_code == 200, put.text
    api.call("POST", f"{base}/protect/upload/complete", 202, json={
        "filename": "results.csv", "transaction_id": started["transaction_id"], "part_count": 1,
        "etags": [put.headers["ETag"]]})
    assert api.wait_for_upload(campaign_id)["num_recipients"] == 3
    api.send(campaign_id)
    stats = api.wait_for_status(campaign_id, timeout=120)
    assert (stats["sent"], stats["error"], stats["invalid"]) == (3, 0, 0), stats

    for vector in VECTORS:
        [email] = smtp.to(vector["recipient"])
        raw = email.data.decode("utf-8", "replace")
        html = email.parsed().get_body(("html",)).get_content()
        links = set(_LINK.findall(html))
        assert links == {f"{system.env['PUBLIC_URL'].rstrip('/')}/p/1/{vector['id']}"}, html
        # The mail holds nothing readable of the message, nor its ciphertext.
        text = html.lower()
        words = {w.strip(".,:!").lower() for w in re.sub(r"<[^>]+>", " ", vector["message"]).split()}
        own = {w for w in words if len(w) > 4} - set(re.sub(r"<[^>]+>", " ", TEMPLATE_BODY).lower().split())
        assert own and not [word for word in own if word in text], html
        assert vector["payload"].split(".")[0][:24] not in raw and vector["payload"].split(".")[0][:24] not in html

        page = requests.get(f"{system.gateway_url}/p/1/{vector['id']}", timeout=10)
        assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
        opened = requests.post(f"{system.gateway_url}/v1/protect/{vector['id']}", timeout=10,
                               json={"password_hash": vector["passwordhash"]})
        assert opened.status_code == 200, opened.text
        assert protected_format.v1_open(opened.json()["payload"], vector["password"], vector["id"]) == \
            vector["message"]

    others = requests.post(f"{system.gateway_url}/v1/protect/{VECTORS[0]['id']}", timeout=10,
                           json={"password_hash": VECTORS[1]["passwordhash"]})
    assert (others.status_code, others.json()["code"]) == (403, "wrong_password")

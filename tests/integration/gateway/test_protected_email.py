"""Password-protected email through the public API, as an existing Postman integration drives it: a protected
campaign, the template rule, the multipart protect upload of a file encrypted on the integration's side (made by
Node's WebCrypto exactly as Postman's frontend makes it), the recipient's ``POST /v1/protect/{id}`` and the page of
the link. The database must hold only what the file held: ciphertext and check values."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import pytest
from sqlalchemy import select

from postman_campaign.models import ProtectedMessage, Recipient
from postman_campaign.protected_messages import expire_messages
from postman_gateway.app import create_app
from postman_shared import protected_format
from tests.conftest import TESTDATA
from tests.integration.gateway.conftest import local_path, poll

pytestmark = pytest.mark.usefixtures("pipeline")


@pytest.fixture
def settings(module_pipeline):
    """The module's settings: its tests share the pipeline, started once (each test has its own app and callers)."""
    return module_pipeline


@pytest.fixture
def pipeline(module_pipeline):
    """The module's pipeline."""


PROTECTED = TESTDATA / "protected"
VECTORS = json.loads((PROTECTED / "vectors.json").read_text())
POSTMAN_FILE = (PROTECTED / "postman_protected_upload.csv").read_bytes()
FROM = "Ministry of Health <donotreply@mail.postman.gov.sg>"
TEMPLATE = {"subject": "Your test result", "reply_to": None, "from": FROM,
            "body": '<p>Dear {{recipient}}, open <a href="{{protectedlink}}">your result</a>.</p>'}


@pytest.fixture(autouse=True)
def vector_ids_unused(database):
    """The known vectors' ids are bound to their ciphertext (v1's salt is the id): free them for this test."""
    from sqlalchemy import delete

    from postman_campaign.models import ProtectedMessageAttempt

    ids = [v["id"] for v in VECTORS]
    with database.unit_of_work() as session:
        session.execute(delete(ProtectedMessage).where(ProtectedMessage.id.in_(ids)))
        session.execute(delete(ProtectedMessageAttempt))


def protected_campaign(http, caller):
    created = http.post("/v1/campaigns", headers=caller.headers,
                        json={"name": "Test results", "type": "EMAIL", "protect": True})
    assert created.status_code == 201, created.json
    assert created.json["protect"] is True
    return created.json["id"]


def protect_upload(http, caller, campaign_id, data: bytes, parts: int = 1, filename="results.csv"):
    """protect/upload/start, one PUT per part to its presigned URL, protect/upload/complete with the ETags."""
    base = f"/v1/campaign/{campaign_id}/email"
    started = http.get(f"{base}/protect/upload/start", headers=caller.headers,
                       query_string={"mime_type": "text/csv", "part_count": parts})
    assert started.status_code == 200, started.json
    urls = started.json["presigned_urls"]
    assert len(urls) == parts
    size = -(-len(data) // parts)
    etags = []
    for number, url in enumerate(urls):
        put = http.put(local_path(url), data=data[number * size:(number + 1) * size],
                       headers={"Content-Type": "text/csv"})
        assert put.status_code == 200, put.get_data(as_text=True)
        etags.append(put.headers["ETag"])
    completed = http.post(f"{base}/protect/upload/complete", headers=caller.headers, json={
        "filename": filename, "transaction_id": started.json["transaction_id"], "part_count": parts,
        "etags": etags})
    assert completed.status_code == 202, completed.json
    assert completed.json == {"transaction_id": started.json["transaction_id"]}
    status = poll(lambda: http.get(f"{base}/upload/status", headers=caller.headers),
                  lambda r: not r.json["is_csv_processing"], "the protected file to be processed")
    return status.json


def test_a_postman_integration_makes_a_protected_campaign_that_each_recipient_opens_with_their_password(
        http, caller, database, settings):
    campaign_id = protected_campaign(http, caller)
    base = f"/v1/campaign/{campaign_id}/email"
    assert http.get(base, headers=caller.headers).json["protect"] is True
    assert http.put(f"{base}/template", headers=caller.headers, json=TEMPLATE).status_code == 200

    status = protect_upload(http, caller, campaign_id, POSTMAN_FILE, parts=2)
    assert status["num_recipients"] == 3 and "csv_error" not in status, status
    link = f"{settings.public_url.rstrip('/')}/p/1/{VECTORS[0]['id']}"
    assert link in status["preview"]["body"]
    assert VECTORS[0]["recipient"] in status["preview"]["body"]

    with database.session() as session:
        stored = {m.id: (m.version, m.payload, m.check_value) for m in session.scalars(
            select(ProtectedMessage).where(ProtectedMessage.campaign_id == campaign_id))}
        params = [r.params for r in session.scalars(select(Recipient).where(Recipient.campaign_id == campaign_id))]
    assert set(stored) == {v["id"] for v in VECTORS}
    for vector in VECTORS:  # ciphertext and the check value, as the file had them; nothing readable
        assert stored[vector["id"]] == (1, vector["payload"], vector["passwordhash"])
    assert all(set(p) == {"recipient", "protectedlink"} for p in params)

    for vector in VECTORS:  # no API key: the proof of the password is the credential
        opened = http.post(f"/v1/protect/{vector['id']}", json={"password_hash": vector["passwordhash"]})
        assert opened.status_code == 200, opened.json
        assert opened.headers["Cache-Control"] == "no-store"
        assert opened.json == {"payload": vector["payload"]}
        assert protected_format.v1_open(opened.json["payload"], vector["password"], vector["id"]) == vector["message"]

    other = VECTORS[1]["passwordhash"]  # another recipient's proof opens nothing of this one's
    wrong = http.post(f"/v1/protect/{VECTORS[0]['id']}", json={"password_hash": other})
    assert (wrong.status_code, wrong.json["code"]) == (403, "wrong_password")
    unknown = http.post("/v1/protect/00000000-0000-4000-8000-000000000000", json={"password_hash": other})
    assert (unknown.status_code, unknown.json) == (403, wrong.json)  # an unknown id answers exactly alike

    sent = http.post(f"{base}/send", headers=caller.headers)
    assert sent.status_code == 200, sent.json
    with database.session() as session:
        expiries = set(session.scalars(select(ProtectedMessage.expires_at).where(
            ProtectedMessage.campaign_id == campaign_id)))
    assert len(expiries) == 1  # counted from the send, PROTECTED_RETENTION_DAYS later


@pytest.mark.parametrize(("body", "named"), [
    ("<p>Dear {{name}}, open {{protectedlink}}</p>", "{{name}}"),
    ("<p>Dear {{recipient}}, your result is ready.</p>", "{{protectedlink}}"),
])
def test_the_template_of_a_protected_campaign_carries_only_the_link(http, caller, body, named):
    campaign_id = protected_campaign(http, caller)
    refused = http.put(f"/v1/campaign/{campaign_id}/email/template", headers=caller.headers,
                       json={**TEMPLATE, "body": body})
    assert (refused.status_code, refused.json["code"]) == (400, "invalid_template")
    assert named in refused.json["message"]
    subject = http.put(f"/v1/campaign/{campaign_id}/email/template", headers=caller.headers,
                       json={**TEMPLATE, "subject": "Result for {{nric}}"})
    assert subject.status_code == 400 and "{{nric}}" in subject.json["message"]


def test_only_email_campaigns_can_be_protected(http, caller):
    refused = http.post("/v1/campaigns", headers=caller.headers, json={"name": "T", "type": "SMS", "protect": True})
    assert (refused.status_code, refused.json["code"]) == (400, "api_validation")


def _file_with(row_changes: dict[int, dict[str, str]], extra_rows: list[dict[str, str]] = ()) -> bytes:
    rows = list(csv.DictReader(io.StringIO(POSTMAN_FILE.decode())))
    for index, change in row_changes.items():
        rows[index].update(change)
    rows.extend(extra_rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["recipient", "payload", "passwordhash", "id"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@pytest.mark.parametrize(("data", "expected"), [
    (_file_with({1: {"payload": "not-encrypted"}}), "line 3, column payload"),
    (_file_with({2: {"id": "42"}}), "line 4, column id"),
    (_file_with({2: {"id": VECTORS[0]["id"]}}), "also the id of line 2"),
    (_file_with({0: {"passwordhash": "abc"}}), "line 2, column passwordhash"),
    (b"recipient,password,name\ntan@example.gov.sg,S1234567D,Tan\n", "recipient,payload,passwordhash,id"),
])
def test_a_bad_protected_file_is_refused_by_line_and_column_and_changes_nothing(http, caller, database, data,
                                                                                expected):
    campaign_id = protected_campaign(http, caller)
    good = protect_upload(http, caller, campaign_id, POSTMAN_FILE)
    assert good["num_recipients"] == 3
    status = protect_upload(http, caller, campaign_id, data, filename="bad.csv")
    assert expected in status["csv_error"], status
    assert status["num_recipients"] == 3  # the previous list and its messages stay whole
    with database.session() as session:
        kept = set(session.scalars(select(ProtectedMessage.id).where(ProtectedMessage.campaign_id == campaign_id)))
    assert kept == {v["id"] for v in VECTORS}


def test_an_id_used_by_another_campaign_is_refused(http, caller):
    first = protected_campaign(http, caller)
    assert protect_upload(http, caller, first, POSTMAN_FILE)["num_recipients"] == 3
    second = protected_campaign(http, caller)
    status = protect_upload(http, caller, second, POSTMAN_FILE)
    assert "line 2, column id" in status["csv_error"] and "another campaign" in status["csv_error"], status


def test_parts_whose_etags_do_not_match_are_refused(http, caller):
    campaign_id = protected_campaign(http, caller)
    base = f"/v1/campaign/{campaign_id}/email"
    started = http.get(f"{base}/protect/upload/start", headers=caller.headers,
                       query_string={"mime_type": "text/csv", "part_count": 2}).json
    put = http.put(local_path(started["presigned_urls"][0]), data=POSTMAN_FILE, headers={"Content-Type": "text/csv"})
    assert put.status_code == 200
    body = {"filename": "r.csv", "transaction_id": started["transaction_id"], "part_count": 2,
            "etags": [put.headers["ETag"], '"0123"']}
    missing = http.post(f"{base}/protect/upload/complete", headers=caller.headers, json=body)
    assert missing.status_code == 400 and "part 2" in missing.json["message"], missing.json
    mismatched = http.post(f"{base}/protect/upload/complete", headers=caller.headers,
                           json={**body, "part_count": 1, "etags": ['"0123"']})
    assert mismatched.status_code == 400 and "2 part(s)" in mismatched.json["message"]
    too_many = http.get(f"{base}/protect/upload/start", headers=caller.headers,
                        query_string={"mime_type": "text/csv", "part_count": 101})
    assert too_many.status_code == 400 and "part_count" in too_many.json["message"]


def test_expired_messages_are_erased_and_their_link_says_so(http, caller, database, settings):
    from datetime import timedelta

    from postman_shared.timestamps import utcnow

    campaign_id = protected_campaign(http, caller)
    protect_upload(http, caller, campaign_id, POSTMAN_FILE)
    vector = VECTORS[0]
    page = http.get(f"/p/1/{vector['id']}")
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    assert "noindex" in page.headers["X-Robots-Tag"]

    later = utcnow() + timedelta(days=settings.protected_retention_days + 1)
    assert expire_messages(database, now=later) >= 3
    with database.session() as session:
        erased = session.get(ProtectedMessage, vector["id"])
        assert erased is not None
        assert (erased.payload, erased.check_value) == (None, None) and erased.expired_at is not None
    gone = http.post(f"/v1/protect/{vector['id']}", json={"password_hash": vector["passwordhash"]})
    assert (gone.status_code, gone.json["code"]) == (410, "message_expired")
    expired_page = http.get(f"/p/1/{vector['id']}")
    assert expired_page.status_code == 410
    assert "has expired" in expired_page.get_data(as_text=True)


def test_too_many_wrong_passwords_lock_a_message_and_unknown_ids_alike(http, caller, settings):
    campaign_id = protected_campaign(http, caller)
    protect_upload(http, caller, campaign_id, POSTMAN_FILE)
    vector = VECTORS[2]
    for message_id in (vector["id"], "11111111-1111-4111-8111-111111111111"):
        answers = [http.post(f"/v1/protect/{message_id}", json={"password_hash": VECTORS[0]["passwordhash"]})
                   for _ in range(settings.protect_max_attempts + 1)]
        codes = [(a.status_code, a.json["code"]) for a in answers]
        assert codes == [(403, "wrong_password")] * settings.protect_max_attempts + [(429, "message_locked")]
        assert int(answers[-1].headers["Retry-After"]) > 0
    # Locked: even the right password waits for the window to end.
    locked = http.post(f"/v1/protect/{vector['id']}", json={"password_hash": vector["passwordhash"]})
    assert (locked.status_code, locked.json["code"]) == (429, "message_locked")


def test_one_ip_address_has_a_limit_on_attempts_and_page_views(settings, caller):
    app = create_app(replace(settings, protect_ip_limit_per_hour=4))
    http = app.test_client()
    page = http.get(f"/p/1/{VECTORS[0]['id']}").status_code
    answers = [http.post(f"/v1/protect/{VECTORS[0]['id']}", json={"password_hash": "x"}).status_code
               for _ in range(4)]
    assert [page, *answers] == [200, 403, 403, 403, 429]
    refused = http.get(f"/p/1/{VECTORS[0]['id']}")
    assert refused.status_code == 429 and "protected messages" in refused.get_data(as_text=True)


@pytest.mark.parametrize("body", [{}, {"password_hash": 5}, {"password_hash": "x" * 300}])
def test_an_open_without_a_usable_proof_is_a_400(http, body):
    response = http.post(f"/v1/protect/{VECTORS[0]['id']}", json=body)
    assert (response.status_code, response.json["code"]) == (400, "api_validation")

"""Transactional email through the public API: sent at once by the real sender-email (SMTP transport, to the aiosmtpd
fake), as JSON (the client and its nodemailer transport) and as multipart with attachments; refused with a clear
{code, message} when it cannot be sent; listed with the contract's filters in both encodings; never another user's.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import zipfile
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest
from sqlalchemy import update

from postman_auth import api_keys
from postman_auth.models import SenderAddress, User
from postman_gateway.app import create_app
from postman_gateway.core.rate_limits import MemoryLimitStore
from tests.fakes.smtp import FakeSmtpServer
from tests.integration.gateway.conftest import Caller
from tests.integration.gateway.test_rate_limits import StoppedClock
from tests.support.inprocess import running
from tests.support.module_fakes import fresh_smtp, purge_queues
from tests.support.stores import free_port

DEFAULT_SENDER = "donotreply@mail.postman.gov.sg"
REFUSED = "nobody@example.com"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(13) + b"\x00" * 8
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(200)


@pytest.fixture(scope="module")
def module_smtp():
    with FakeSmtpServer(refuse={REFUSED: "User unknown"}) as server:
        yield server


@pytest.fixture(scope="module")
def module_system(module_settings, module_smtp):
    """The module's settings wired to its mail server, with the services started once for the module (each test
    makes its own callers; a transactional email is sent before its answer, so none is still on its way to the
    mail server when the next test begins)."""
    wired = replace(module_settings, email_transport="smtp", smtp_host="127.0.0.1", smtp_port=module_smtp.port)
    purge_queues(wired.amqp_url)
    with running(wired, "auth", "campaign", "sender-email"):
        yield wired


@pytest.fixture
def settings(module_system):
    return module_system


@pytest.fixture(autouse=True)
def smtp(module_smtp, module_system):
    """The module's mail server, with no message and only its refusal, before anything of the test reaches it."""
    return fresh_smtp(module_smtp, refuse={REFUSED: "User unknown"})


def send(http, caller, **fields):
    return http.post("/v1/transactional/email/send", headers=caller.headers,
                     json={"subject": "Your appointment", "body": "<p>See you at 10am</p>",
                           "recipient": "ana@example.com", **fields})


def send_multipart(http, caller, files, **fields):
    data = {"subject": "Your letter", "body": "<p>Attached</p>", "recipient": "ana@example.com", **fields,
            "attachments": [(io.BytesIO(content), name) for name, content in files]}
    return http.post("/v1/transactional/email/send", headers=caller.headers, data=data,
                     content_type="multipart/form-data")


def office_file(main_part: str) -> bytes:
    """A minimal Office Open XML package declaring ``main_part`` as its main document's content type."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org'
                         f'/package/2006/content-types"><Override PartName="/word/document.xml" '
                         f'ContentType="{main_part}"/></Types>')
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


DOCX = office_file("application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")
DOCM = office_file("application/vnd.ms-word.document.macroEnabled.main+xml")


def test_a_json_send_is_accepted_and_arrives_once_with_cc_in_a_header_and_bcc_only_in_the_envelope(
        http, caller, smtp):
    response = send(http, caller, cc=["Bo <bo@example.com>", "cy@example.com"], bcc=["audit@agency.gov.sg"],
                    reply_to="desk@agency.gov.sg", tag="appointments", classification="for_action")

    assert response.status_code == 201, response.json
    email = response.json
    assert email["status"] == "ACCEPTED" and isinstance(email["id"], str) and email["id"].isdigit()
    assert email["recipient"] == "ana@example.com" and email["from"] == f"Postman <{DEFAULT_SENDER}>"
    assert email["params"] == {"body": "<p>See you at 10am</p>", "from": f"Postman <{DEFAULT_SENDER}>",
                               "subject": "Your appointment", "reply_to": "desk@agency.gov.sg"}
    assert email["attachments_metadata"] is None and email["error_code"] is None and email["accepted_at"]
    assert (email["classification"], email["tag"]) == ("FOR_ACTION", "appointments")
    assert (email["cc"], email["bcc"]) == (["bo@example.com", "cy@example.com"], ["audit@agency.gov.sg"])

    [message] = smtp.messages
    assert message.mail_from == DEFAULT_SENDER
    assert message.rcpt_tos == ("ana@example.com", "bo@example.com", "cy@example.com", "audit@agency.gov.sg")
    parsed = message.parsed()
    assert parsed["To"] == "ana@example.com" and parsed["Cc"] == "bo@example.com, cy@example.com"
    assert "Bcc" not in parsed and b"audit@agency.gov.sg" not in message.data
    assert parsed["Reply-To"] == "desk@agency.gov.sg" and parsed["X-Postman-Classification"] == "FOR_ACTION"
    assert parsed["Message-ID"] == f"<tx-{email['id']}@mail.postman.gov.sg>"
    assert parsed.get_content() == "<p>See you at 10am</p>"

    # SMTP reports nothing later: taken by the relay is sent.
    got = http.get(f"/v1/transactional/email/{email['id']}", headers=caller.headers).json
    assert got["status"] == "SENT" and got["sent_at"] and got["params"] == email["params"]


def test_the_nodemailer_transports_exact_request_gets_an_id_a_status_and_the_body(app, caller, smtp):
    # PostmanNodemailerTransport: lowercase authorization header, cc and bcc always arrays, the first "to" entry
    # verbatim, from as "name <address>" (an empty name gives " <address>"), body "undefined" without html or text.
    http = app.test_client()
    response = http.post("/v1/transactional/email/send", headers={"authorization": f"Bearer {caller.key}"},
                         data=json.dumps({"subject": "Hello", "recipient": "Ana Tan <ana@example.com>",
                                          "from": f" <{DEFAULT_SENDER}>", "body": "undefined", "cc": [], "bcc": []}),
                         content_type="application/json")

    assert response.status_code == 201, response.json
    assert response.json["id"].isdigit() and response.json["status"] == "ACCEPTED"
    assert response.json["params"]["body"] == "undefined"
    [message] = smtp.messages
    assert message.rcpt_tos == ("ana@example.com",)
    assert message.parsed()["From"] == f"Postman <{DEFAULT_SENDER}>"


def test_the_reply_to_defaults_to_the_callers_own_address_and_the_from_name_may_change(http, caller, smtp, database):
    response = send(http, caller, **{"from": f"Clinic Bookings <{DEFAULT_SENDER.upper()}>"})

    assert response.status_code == 201, response.json
    with database.session() as session:
        own_address = session.get_one(User, caller.user_id).email
    parsed = smtp.messages[0].parsed()
    assert parsed["From"] == f"Clinic Bookings via Postman <{DEFAULT_SENDER}>"  # Postman's wording
    assert parsed["Reply-To"] == own_address and response.json["params"]["reply_to"] == own_address


def test_the_from_may_be_an_address_the_caller_verified_and_no_other(http, caller, new_caller, smtp, database):
    other = new_caller()
    with database.unit_of_work() as session:  # as Settings > Sender addresses leaves them (auth's own tests)
        session.add(SenderAddress(user_id=caller.user_id, email="bookings@agency.gov.sg", status="VERIFIED",
                                  method="link", verified_at=datetime.now(timezone.utc)))
        session.add(SenderAddress(user_id=caller.user_id, email="pending@agency.gov.sg", status="PENDING",
                                  method="link"))
        session.add(SenderAddress(user_id=other.user_id, email="theirs@agency.gov.sg", status="VERIFIED",
                                  method="link", verified_at=datetime.now(timezone.utc)))

    sent = send(http, caller, **{"from": "Clinic Bookings <Bookings@Agency.gov.sg>"})

    assert sent.status_code == 201, sent.json
    assert sent.json["from"] == "Clinic Bookings <bookings@agency.gov.sg>"
    [message] = smtp.messages
    assert message.mail_from == "bookings@agency.gov.sg"
    assert message.parsed()["From"] == "Clinic Bookings <bookings@agency.gov.sg>"
    for refused_from in ("pending@agency.gov.sg", "theirs@agency.gov.sg",
                         '"bookings@agency.gov.sg" <someone@elsewhere.example>'):
        refused = send(http, caller, **{"from": refused_from})
        assert (refused.status_code, refused.json["code"]) == (400, "invalid_from_address"), refused_from
        assert "Settings > Sender addresses" in refused.json["message"] or "looks like" in refused.json["message"]
    assert len(smtp.messages) == 1


def test_multipart_attachments_arrive_as_mime_parts_and_are_described_by_size_and_hash(http, caller, smtp):
    files = [("letter.pdf", PDF), ("map.png", PNG), ("slots.csv", b"date,time\n2026-12-01,10:00\n"),
             ("form.docx", DOCX), ("报告.pdf", PDF)]
    response = send_multipart(http, caller, files, cc=json.dumps(["bo@example.com", "cy@example.com"]),
                              bcc="dee@example.com", classification="urgent", disable_tracking="true")

    assert response.status_code == 201, response.json
    email = response.json
    assert email["attachments_metadata"] == [
        {"fileName": name, "fileSize": len(content), "hash": hashlib.sha256(content).hexdigest()}
        for name, content in files]
    assert email["cc"] == ["bo@example.com", "cy@example.com"] and email["bcc"] == ["dee@example.com"]
    assert email["classification"] == "URGENT"

    [message] = smtp.messages
    parsed = message.parsed()
    assert parsed.get_content_type() == "multipart/mixed" and "Bcc" not in parsed
    body, *attached = parsed.iter_parts()
    assert body.get_content() == "<p>Attached</p>"
    assert [(part.get_filename(), part.get_content_type(), part.get_content()) for part in attached] == [
        ("letter.pdf", "application/pdf", PDF), ("map.png", "image/png", PNG),
        ("slots.csv", "text/csv", "date,time\n2026-12-01,10:00\n"),
        ("form.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", DOCX),
        ("报告.pdf", "application/pdf", PDF)]
    assert message.rcpt_tos == ("ana@example.com", "bo@example.com", "cy@example.com", "dee@example.com")


def test_with_the_outbox_transport_an_email_becomes_one_eml_file_and_is_sent_at_once(settings, caller, tmp_path):
    outbox = replace(settings, email_transport="outbox", outbox_dir=tmp_path / "transactional-outbox",
                     email_sender_addr=f"127.0.0.1:{free_port()}")
    with running(outbox, "campaign", "sender-email"):
        http = create_app(outbox).test_client()
        email = send_multipart(http, caller, [("letter.pdf", PDF)], cc="bo@example.com").json
        got = http.get(f"/v1/transactional/email/{email['id']}", headers=caller.headers).json

    assert email["status"] == "ACCEPTED" and got["status"] == "SENT"
    [written] = list(outbox.outbox_dir.iterdir())
    assert written.name == f"tx-{email['id']}.eml"
    parsed = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert parsed["Cc"] == "bo@example.com"
    assert [part.get_filename() for part in parsed.iter_attachments()] == ["letter.pdf"]


def test_attachments_of_almost_10_mb_together_are_sent_whole(http, caller, smtp):
    big = PDF + b"1" * (10 * 1024 * 1024 - 2 * len(PDF) - 1000)
    response = send_multipart(http, caller, [("big.pdf", big), ("small.pdf", PDF)])

    assert response.status_code == 201, response.json
    [_, first, second] = smtp.messages[0].parsed().iter_parts()
    assert (first.get_content(), second.get_content()) == (big, PDF)


def test_attachments_over_10_mb_together_are_413_and_nothing_is_sent(http, caller, smtp):
    half = PDF + b"0" * (5 * 1024 * 1024)
    response = send_multipart(http, caller, [("a.pdf", half), ("b.pdf", half)])

    assert response.status_code == 413, response.json
    assert response.json["code"] == "attachment_limit" and "10 MB" in response.json["message"]
    assert smtp.messages == []
    assert http.get("/v1/transactional/email", headers=caller.headers).json["data"] == []


@pytest.mark.parametrize("name, content, words", [
    ("invoice.pdf", EXE, 'attachment "invoice.pdf" is named as a PDF document, but its content is a Windows program'),
    ("photo.png", PDF, "its content is a PDF document"),
    ("form.docx", DOCM, "not an Office or OpenDocument file of an allowed kind"),
    ("setup.exe", EXE, "files ending .exe may not be attached"),
    ("notes.txt", b"\x00\x01binary", "its content is of a kind that is not allowed"),
])
def test_a_file_whose_content_is_not_an_allowed_type_its_name_says_is_refused(http, caller, smtp, name, content,
                                                                                words):
    response = send_multipart(http, caller, [("ok.pdf", PDF), (name, content)])

    assert response.status_code == 400 and response.json["code"] == "api_validation", response.json
    assert words in response.json["message"]
    assert smtp.messages == []


@pytest.mark.parametrize("fields, code, words", [
    ({"cc": [f"c{n}@example.com" for n in range(25)], "bcc": [f"b{n}@example.com" for n in range(25)]},
     "api_validation", "hold 50 addresses together; at most 49"),
    ({"recipient": "Ana <ana@example.com>, bo@example.com"}, "invalid_recipient", "must be one email address"),
    ({"recipient": "not-an-address"}, "invalid_recipient", "recipient"),
    ({"cc": ["fine@example.com", "broken@"]}, "invalid_recipient", "cc[1]"),
    ({"from": "someone@elsewhere.example"}, "invalid_from_address", DEFAULT_SENDER),
    ({"classification": "SECRET"}, "api_validation", "URGENT, FOR_ACTION, FOR_INFO"),
    ({"tag": "t" * 256}, "api_validation", "at most 255"),
    ({"body": "<p>" + "x" * (1024 * 1024) + "</p>"}, "api_validation", "at most 1,048,576 bytes"),
    ({"subject": "  "}, "api_validation", "subject"),
    ({"body": None}, "api_validation", '"body" is required'),
    ({"attachments": [{"filename": "a.pdf", "content": "JVBERi0="}]}, "api_validation", "multipart/form-data"),
    ({"cc": "bo@example.com, cy@example.com"}, "invalid_recipient", "cc[0]"),
    ({"disable_tracking": "maybe"}, "api_validation", "disable_tracking"),
])
def test_an_email_that_cannot_be_sent_is_refused_with_a_clear_reason_and_nothing_is_sent(http, caller, smtp,
                                                                                          fields, code, words):
    response = send(http, caller, **fields)

    assert response.status_code == 400 and response.json["code"] == code, response.json
    assert words in response.json["message"]
    assert smtp.messages == []


def test_49_copies_are_allowed(http, caller, smtp):
    response = send(http, caller, cc=[f"c{n}@example.com" for n in range(24)],
                    bcc=[f"b{n}@example.com" for n in range(25)])

    assert response.status_code == 201, response.json
    assert len(smtp.messages[0].rcpt_tos) == 50


def test_a_recipient_the_mail_server_refuses_is_a_400_and_the_email_stays_unsent(http, caller, smtp):
    response = send(http, caller, recipient=REFUSED)

    assert response.status_code == 400 and response.json["code"] == "invalid_recipient", response.json
    assert "smtp_550" in response.json["message"] and "User unknown" in response.json["message"]
    [recorded] = http.get("/v1/transactional/email?status=UNSENT", headers=caller.headers).json["data"]
    assert recorded["recipient"] == REFUSED and recorded["error_code"] == "smtp_550"
    assert recorded["accepted_at"] is None


def test_a_refused_copy_is_dropped_and_the_others_still_get_the_email(http, caller, smtp):
    response = send(http, caller, cc=[REFUSED, "bo@example.com"])

    assert response.status_code == 201, response.json
    assert smtp.messages[0].rcpt_tos == ("ana@example.com", "bo@example.com")


def test_a_test_key_goes_through_every_check_but_reaches_no_mail_server(http, database, smtp):
    with database.unit_of_work() as session:
        user = api_keys.get_or_create_user(session, f"tester-{secrets.token_hex(4)}@agency.gov.sg")
        tester = Caller(user.id, api_keys.create_api_key(session, user, label="test", test=True))

    refused = send(http, tester, recipient="broken@")
    delivered = send(http, tester)
    bounced = send(http, tester, recipient="bounce@simulator.postman.gov.sg")

    assert refused.status_code == 400 and refused.json["code"] == "invalid_recipient"
    assert delivered.status_code == 201 and delivered.json["status"] == "ACCEPTED"
    assert bounced.status_code == 201 and bounced.json["status"] == "ACCEPTED"
    assert smtp.messages == []
    after = {e["recipient"]: e for e in http.get("/v1/transactional/email", headers=tester.headers).json["data"]}
    assert after["ana@example.com"]["status"] == "DELIVERED" and after["ana@example.com"]["delivered_at"]
    assert after["bounce@simulator.postman.gov.sg"]["status"] == "BOUNCED"
    assert after["bounce@simulator.postman.gov.sg"]["error_code"] == "bounce_permanent"


def test_the_list_filters_sorts_and_pages_as_the_contract_says(http, caller, new_caller, smtp):
    ids = [send(http, caller, subject=f"message {n}", tag="batch-a" if n < 2 else "batch-b").json["id"]
           for n in range(3)]
    send(http, caller, recipient=REFUSED)  # stays UNSENT
    first, second = (http.get(f"/v1/transactional/email/{i}", headers=caller.headers).json for i in ids[:2])

    newest_first = http.get("/v1/transactional/email?limit=2", headers=caller.headers).json
    assert newest_first["has_more"] is True and len(newest_first["data"]) == 2
    oldest_first = http.get("/v1/transactional/email?sort_by=%2Bcreated_at&status=SENT&status=DELIVERED",
                            headers=caller.headers).json
    assert [m["id"] for m in oldest_first["data"]] == ids and oldest_first["has_more"] is False
    assert [m["id"] for m in http.get("/v1/transactional/email?sort_by=-updated_at&status=SENT&limit=1&offset=2",
                                      headers=caller.headers).json["data"]] == [ids[0]]
    assert http.get("/v1/transactional/email?status=UNSENT", headers=caller.headers).json["data"][0]["status"] \
        == "UNSENT"
    for key in ("created_at.gte", "created_at[gte]"):
        later = http.get("/v1/transactional/email", headers=caller.headers,
                         query_string={key: second["created_at"], "status": "SENT"}).json
        assert ids[0] not in [m["id"] for m in later["data"]] and set(ids[1:]) <= {m["id"] for m in later["data"]}
    for key in ("created_at.lt", "created_at[lt]"):
        earlier = http.get("/v1/transactional/email", headers=caller.headers,
                           query_string={key: second["created_at"]}).json
        assert [m["id"] for m in earlier["data"]] == [first["id"]]
    future = (datetime.fromisoformat(first["created_at"].replace("Z", "+00:00")) + timedelta(days=1)).isoformat()
    assert http.get("/v1/transactional/email", headers=caller.headers,
                    query_string={"created_at.gt": future}).json == {"has_more": False, "data": []}
    tagged = http.get("/v1/transactional/email?tag=batch-a", headers=caller.headers).json["data"]
    assert sorted(m["id"] for m in tagged) == sorted(ids[:2])

    stranger = new_caller()
    assert http.get("/v1/transactional/email", headers=stranger.headers).json == {"has_more": False, "data": []}
    assert http.get(f"/v1/transactional/email/{ids[0]}", headers=stranger.headers).status_code == 404
    assert http.get("/v1/transactional/email/999999999", headers=caller.headers).json["code"] == "not_found"


@pytest.mark.parametrize("query, field", [
    ("status=ERROR", "status"), ("sort_by=subject", "sort_by"), ("limit=0", "limit"), ("limit=101", "limit"),
    ("created_at[lt]=tomorrow", "created_at[lt]"), ("offset=-1", "offset"),
])
def test_a_bad_list_query_names_its_field(http, caller, query, field):
    response = http.get(f"/v1/transactional/email?{query}", headers=caller.headers)

    assert response.status_code == 400 and response.json["code"] == "api_validation"
    assert f'"{field}"' in response.json["message"]


def test_a_non_numeric_id_is_a_400(http, caller):
    response = http.get("/v1/transactional/email/abc", headers=caller.headers)

    assert response.status_code == 400 and response.json["code"] == "api_validation"
    assert "emailId" in response.json["message"]


def test_an_email_without_a_key_is_a_401_and_nothing_is_sent(http, smtp):
    response = http.post("/v1/transactional/email/send", json={"subject": "s", "body": "b",
                                                               "recipient": "ana@example.com"})
    assert response.status_code == 401
    assert smtp.messages == []


def test_an_email_is_not_sent_past_the_callers_send_limit(settings, caller, smtp, database):
    with database.unit_of_work() as session:
        session.execute(update(User).where(User.id == caller.user_id).values(rate_limit=1))
    http = create_app(settings, limit_store=MemoryLimitStore(StoppedClock())).test_client()

    assert send(http, caller).status_code == 201
    refused = send(http, caller)

    assert (refused.status_code, refused.json["code"]) == (429, "rate_limit")
    assert len(smtp.messages) == 1


def test_the_body_is_sanitised_before_it_is_sent(http, caller, smtp):
    response = send(http, caller, body='<p onclick="steal()">Hi<script>alert(1)</script></p>')

    assert response.status_code == 201
    assert response.json["params"]["body"] == "<p>Hi</p>"
    assert smtp.messages[0].parsed().get_content() == "<p>Hi</p>"


"""An SMS campaign through the public API to Twilio: Twilio credentials checked by a real test SMS (the official
twilio library against the local Twilio fake) and stored only when it works, a saved label reused on another
campaign, send at a chosen rate through renderer and sender-sms, then stats and export."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace

import pytest
from sqlalchemy import select

from postman_campaign.models import Credential
from postman_shared.credentials import new_master_key
from tests.conftest import TESTDATA
from tests.fakes.twilio import FakeTwilio
from tests.integration.gateway.conftest import poll, upload_file
from tests.support.inprocess import running
from tests.support.module_fakes import fresh_twilio, purge_queues

API_KEY, API_SECRET = "SK" + secrets.token_hex(16), "twilio-secret-" + secrets.token_hex(8)
ACCOUNT = {"twilio_account_sid": "AC" + secrets.token_hex(16), "twilio_api_key": API_KEY,
           "twilio_api_secret": API_SECRET, "twilio_messaging_service_sid": "MG" + secrets.token_hex(16)}
TEMPLATE = {"body": "Dear {{name}}, your appointment is tomorrow."}
INVALID = {"+447911123456"}  # a number Twilio refuses (code 21211)


@pytest.fixture(scope="module")
def module_twilio():
    with FakeTwilio(api_key=API_KEY, api_secret=API_SECRET, invalid=INVALID) as fake:
        yield fake


@pytest.fixture
def twilio(module_twilio, services):
    """The module's Twilio fake, made fresh for this test by ``services``."""
    return module_twilio


@pytest.fixture(scope="module")
def module_system(module_settings, module_twilio):
    """The module's settings wired to its Twilio fake, with the services started once for the module (each test
    makes its own users and campaigns)."""
    wired = replace(module_settings, credentials_key=new_master_key(), twilio_api_base=module_twilio.base_url)
    purge_queues(wired.amqp_url)
    with running(wired, "auth", "campaign", "renderer", "stats", "sender-sms"):
        yield wired


@pytest.fixture
def settings(module_system):
    return module_system


@pytest.fixture
def services(module_system, module_twilio):
    """The module's services (started once), and its Twilio fake made fresh for this test before anything of the
    test reaches it (once the fake has made the status callbacks it owes an earlier test's messages)."""
    fresh_twilio(module_twilio, invalid=INVALID)


def sms_campaign(http, caller, upload: bool = True) -> str:
    created = http.post("/v1/campaigns", headers=caller.headers, json={"name": "Reminders", "type": "SMS"})
    assert created.status_code == 201, created.json
    base = f"/v1/campaign/{created.json['id']}/sms"
    assert http.put(f"{base}/template", headers=caller.headers, json=TEMPLATE).status_code == 200
    if upload:
        upload_file(http, caller, created.json["id"], TESTDATA / "sms_sg_numbers.csv", channel="sms")
    return base


def stored_credentials(database, user_id: int) -> list[tuple[str | None, bytes]]:
    """(label, sealed bytes) of the user's stored credentials."""
    with database.session() as session:
        return [(row.label, bytes(row.sealed))
                for row in session.scalars(select(Credential).where(Credential.user_id == user_id))]


@pytest.mark.usefixtures("services")
def test_an_sms_campaign_goes_to_twilio_at_its_rate_and_its_stats_and_export_add_up(http, caller, twilio, database):
    base = sms_campaign(http, caller)
    added = http.post(f"{base}/new-credentials", headers=caller.headers,
                      json={**ACCOUNT, "recipient": "+65 8765 4321", "label": "moh-sms"})
    assert added.status_code == 200 and added.json == {"message": "OK"}, added.json
    [test_sms] = twilio.sent
    assert test_sms.to == "+6587654321" and "test message" in test_sms.body
    assert test_sms.messaging_service_sid == ACCOUNT["twilio_messaging_service_sid"]
    [(label, sealed)] = stored_credentials(database, caller.user_id)
    assert label == "moh-sms" and API_SECRET.encode() not in sealed and API_KEY.encode() not in sealed
    assert http.get(base, headers=caller.headers).json["has_credential"] is True

    sent = http.post(f"{base}/send", headers=caller.headers, json={"rate": 50})
    assert sent.status_code == 200, sent.json
    stats = poll(lambda: http.get(f"{base}/stats", headers=caller.headers).json,
                 lambda s: s["status"] == "LOGGED", "the campaign to be logged")

    assert (stats["sent"], stats["error"], stats["invalid"], stats["unsent"]) == (4, 1, 1, 0)
    assert (stats["segments"], stats["encoding"]) == (1, "GSM-7") and stats["unsubscribed"] == 0
    messages = twilio.sent[1:]
    assert sorted(m.to for m in messages) == ["+6562345678", "+6581234567", "+6591234567", "+6591234567"]
    assert {m.body for m in messages} >= {"Dear A, your appointment is tomorrow.",
                                          "Dear D landline, your appointment is tomorrow."}
    export = http.get(f"{base}/export", headers=caller.headers)
    rows = {(r["recipient"], r["status"], r["error_code"]) for r in json.loads(export.get_data())}
    assert ("+447911123456", "ERROR", "twilio_21211") in rows and ("1234", "INVALID", None) in rows
    assert sum(1 for r in rows if r[1] == "SENT") >= 3  # two rows of one number are one tuple here
    assert all(set(r) == {"recipient", "status", "error_code", "updated_at", "error_sub_type"}
               for r in json.loads(export.get_data()))
    again = http.post(f"{base}/send", headers=caller.headers, json={})
    assert again.status_code == 403 and again.json["code"] == "already_sent"


@pytest.mark.usefixtures("services")
@pytest.mark.parametrize("change, code, words", [
    ({"twilio_api_secret": "wrong"}, "invalid_credentials", "Twilio refused these credentials"),
    ({"twilio_account_sid": ""}, "invalid_credentials", "twilio_account_sid is required"),
    ({"recipient": "12"}, "invalid_recipient", "not a valid phone number"),
    ({"recipient": "+447911123456"}, "invalid_recipient", "could not send the test SMS to that number"),
    ({"label": "Not OK"}, "invalid_credential_label", "lower-case letters"),
])
def test_credentials_that_do_not_work_are_refused_and_nothing_is_stored(http, caller, database, twilio, change,
                                                                        code, words):
    base = sms_campaign(http, caller, upload=False)
    response = http.post(f"{base}/new-credentials", headers=caller.headers,
                         json={**ACCOUNT, "recipient": "+6587654321", **change})
    assert response.status_code == 400 and response.json["code"] == code, response.json
    assert words in response.json["message"]
    assert stored_credentials(database, caller.user_id) == []
    assert http.get(base, headers=caller.headers).json["has_credential"] is False
    assert "wrong" not in response.json["message"] and API_SECRET not in response.json["message"]


@pytest.mark.usefixtures("services")
def test_a_saved_label_is_reused_on_another_campaign_after_a_test_sms(http, caller, new_caller, twilio, database):
    first = sms_campaign(http, caller, upload=False)
    assert http.post(f"{first}/new-credentials", headers=caller.headers,
                     json={**ACCOUNT, "recipient": "+6587654321", "label": "main"}).status_code == 200
    second = sms_campaign(http, caller, upload=False)

    used = http.post(f"{second}/credentials", headers=caller.headers, json={"label": "main",
                                                                            "recipient": "+6581112222"})
    assert used.status_code == 200, used.json
    assert [m.to for m in twilio.sent] == ["+6587654321", "+6581112222"]
    assert http.get(second, headers=caller.headers).json["has_credential"] is True
    assert len(stored_credentials(database, caller.user_id)) == 1

    duplicate = http.post(f"{second}/new-credentials", headers=caller.headers,
                          json={**ACCOUNT, "recipient": "+6587654321", "label": "main"})
    assert duplicate.status_code == 400 and duplicate.json["code"] == "invalid_credential_label"
    unknown = http.post(f"{second}/credentials", headers=caller.headers, json={"label": "nope",
                                                                               "recipient": "+6587654321"})
    assert unknown.status_code == 400 and unknown.json["code"] == "invalid_credential_label"

    other = new_caller()
    theirs = sms_campaign(http, other, upload=False)
    stolen = http.post(f"{theirs}/credentials", headers=other.headers, json={"label": "main",
                                                                            "recipient": "+6587654321"})
    assert stolen.status_code == 400 and stolen.json["code"] == "invalid_credential_label"
    assert http.get(theirs, headers=other.headers).json["has_credential"] is False


@pytest.mark.usefixtures("services")
@pytest.mark.parametrize("body", [{"rate": 0}, {"rate": "10"}, {"rate": 2.5}, {"rate": True}])
def test_a_send_rate_that_is_not_a_whole_positive_number_is_refused(http, caller, body):
    base = sms_campaign(http, caller, upload=False)
    response = http.post(f"{base}/send", headers=caller.headers, json=body)
    assert response.status_code == 400 and response.json["code"] == "api_validation"
    assert "rate must be a whole number" in response.json["message"]


@pytest.mark.usefixtures("services")
def test_a_retry_sends_only_the_failed_sms_again_as_a_new_message(http, caller, twilio):
    base = sms_campaign(http, caller)
    assert http.post(f"{base}/new-credentials", headers=caller.headers,
                     json={**ACCOUNT, "recipient": "+6587654321"}).status_code == 200
    assert http.post(f"{base}/send", headers=caller.headers, json={}).status_code == 200
    first = poll(lambda: http.get(f"{base}/stats", headers=caller.headers).json,
                 lambda s: s["status"] == "LOGGED", "the send to be logged")
    assert (first["sent"], first["error"]) == (4, 1)
    before = len(twilio.sent)

    twilio.invalid.discard("+447911123456")  # the number was fixed on the provider's side
    form = {"Content-Type": "application/x-www-form-urlencoded"}  # axios' header on a POST without data
    retried = http.post(f"{base}/retry", headers={**caller.headers, **form})
    assert retried.status_code == 200, retried.json
    second = poll(lambda: http.get(f"{base}/stats", headers=caller.headers).json,
                  lambda s: s["status"] == "LOGGED", "the retry to be logged")

    assert (second["sent"], second["error"], second["invalid"], second["unsent"]) == (5, 0, 1, 0)
    assert [m.to for m in twilio.sent[before:]] == ["+447911123456"]
    [job_first, job_retry] = http.get(base, headers=caller.headers).json["job_queue"]
    assert (job_first["status"], job_retry["status"]) == ("LOGGED", "LOGGED")

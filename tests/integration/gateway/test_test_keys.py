"""Test API keys: everything a test key does goes through every validation and the whole pipeline (queues,
renderer, senders, stats), but no provider is ever called — the senders record a simulated outcome, and the
documented simulator recipients produce a failure. The local SMTP server, Twilio and Telegram fakes here must see
no request at all from a test key."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace

import pytest

from postman_auth import api_keys
from postman_shared.credentials import new_master_key
from tests.fakes.smtp import FakeSmtpServer
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio
from tests.integration.gateway.conftest import Caller, poll, upload_file
from tests.integration.sender_telegram.conftest import new_bot_token
from tests.support.inprocess import running

ACCOUNT = {"twilio_account_sid": "AC" + "1" * 32, "twilio_api_key": "SK" + "2" * 32,
           "twilio_api_secret": "not-a-real-secret", "twilio_messaging_service_sid": "MG" + "3" * 32}


@pytest.fixture
def fakes():
    with FakeSmtpServer() as smtp, FakeTwilio(api_key="SKother", api_secret="x") as twilio, \
            FakeTelegram(tokens=set()) as telegram:
        yield smtp, twilio, telegram


@pytest.fixture
def settings(settings, fakes):
    smtp, twilio, telegram = fakes
    return replace(settings, credentials_key=new_master_key(), email_transport="smtp", smtp_host="127.0.0.1",
                   smtp_port=smtp.port, twilio_api_base=twilio.base_url, telegram_api_base=telegram.base_url)


@pytest.fixture
def services(settings):
    with running(settings, "auth", "campaign", "renderer", "stats", "sender-email", "sender-sms", "sender-telegram"):
        yield


@pytest.fixture
def test_caller(database) -> Caller:
    with database.unit_of_work() as session:
        user = api_keys.get_or_create_user(session, f"tester-{secrets.token_hex(4)}@agency.gov.sg")
        key = api_keys.create_api_key(session, user, label="ci", test=True)
        return Caller(user.id, key)


def nothing_reached_a_provider(fakes) -> bool:
    smtp, twilio, telegram = fakes
    return smtp.messages == [] and twilio.received == [] and telegram.calls == []


def campaign(http, caller, channel: str) -> int:
    created = http.post("/v1/campaigns", headers=caller.headers, json={"name": "Simulated", "type": channel})
    assert created.status_code == 201, created.json
    return created.json["id"]


def finished_stats(http, caller, campaign_id: int, channel: str) -> dict:
    return poll(lambda: http.get(f"/v1/campaign/{campaign_id}/{channel}/stats", headers=caller.headers).json,
                lambda s: s.get("status") == "LOGGED", "the campaign to be logged")


@pytest.mark.usefixtures("auth_service")
def test_a_test_key_is_made_from_a_session_and_says_so(app, sign_in):
    browser = sign_in()
    created = browser.client.post("/v1/api-key", json={"label": "ci", "test": True})
    assert created.status_code == 201, created.json
    assert created.json["api_key"].startswith("test_v1_") and created.json["test"] is True
    live = browser.client.post("/v1/api-key", json={"label": "prod"}).json
    assert live["api_key"].startswith("live_v1_") and live["test"] is False
    assert {k["label"]: k["test"] for k in browser.client.get("/v1/api-key").json} == {"ci": True, "prod": False}


@pytest.mark.usefixtures("services")
def test_an_email_campaign_of_a_test_key_runs_the_whole_pipeline_and_sends_nothing(http, test_caller, fakes,
                                                                                    tmp_path):
    campaign_id = campaign(http, test_caller, "EMAIL")
    base = f"/v1/campaign/{campaign_id}/email"
    assert http.put(f"{base}/template", headers=test_caller.headers,
                    json={"subject": "Hi {{name}}", "body": "<p>Dear {{name}}</p>", "reply_to": None,
                          "from": "Postman <donotreply@mail.postman.gov.sg>"}).status_code == 200
    recipients = tmp_path / "list.csv"
    recipients.write_text("recipient,name\nann@agency.gov.sg,Ann\nbounce@simulator.postman.gov.sg,Bounce\n"
                          "not-an-email,Bad\n")
    upload_file(http, test_caller, campaign_id, recipients)
    bad_template = http.put(f"{base}/template", headers=test_caller.headers,
                            json={"subject": "x", "body": "{{ two words }}", "reply_to": None,
                                  "from": "Postman <donotreply@mail.postman.gov.sg>"})
    assert bad_template.status_code == 400 and bad_template.json["code"] == "invalid_template"  # validated as usual

    assert http.post(f"{base}/send", headers=test_caller.headers).status_code == 200
    stats = finished_stats(http, test_caller, campaign_id, "email")

    assert (stats["sent"], stats["error"], stats["invalid"]) == (1, 1, 1)
    export = {r["recipient"]: r for r in json.loads(http.get(f"{base}/export", headers=test_caller.headers).data)}
    assert export["bounce@simulator.postman.gov.sg"]["error_code"] == "simulated_bounce"
    assert export["ann@agency.gov.sg"]["status"] == "SENT"
    assert nothing_reached_a_provider(fakes)


@pytest.mark.usefixtures("services")
def test_sms_credentials_campaign_and_transactional_sms_of_a_test_key_never_call_twilio(http, test_caller, fakes,
                                                                                      tmp_path):
    campaign_id = campaign(http, test_caller, "SMS")
    base = f"/v1/campaign/{campaign_id}/sms"
    http.put(f"{base}/template", headers=test_caller.headers, json={"body": "Dear {{name}}"})
    missing = http.post(f"{base}/new-credentials", headers=test_caller.headers,
                        json={**ACCOUNT, "twilio_api_secret": "", "recipient": "+6591234567"})
    assert missing.status_code == 400 and missing.json["code"] == "invalid_credentials"  # still validated
    added = http.post(f"{base}/new-credentials", headers=test_caller.headers,
                      json={**ACCOUNT, "recipient": "+6591234567", "label": "sim"})
    assert added.status_code == 200, added.json
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("recipient,name\n+6591234567,Ann\n+6590000001,Undelivered\n")
    upload_file(http, test_caller, campaign_id, numbers, channel="sms")
    assert http.post(f"{base}/send", headers=test_caller.headers, json={"rate": 50}).status_code == 200
    stats = finished_stats(http, test_caller, campaign_id, "sms")
    assert (stats["sent"], stats["error"]) == (1, 1)

    sms = http.post("/v1/transactional/sms/send", headers=test_caller.headers,
                    json={"body": "Code 1234", "recipient": "+6581234567", "label": "sim"})
    assert sms.status_code == 201 and sms.json["status"] == "ACCEPTED", sms.json
    refused = http.post("/v1/transactional/sms/send", headers=test_caller.headers,
                        json={"body": "Code 1234", "recipient": "+6590000002", "label": "sim"})
    assert refused.status_code == 400 and "simulated_invalid_number" in refused.json["message"]
    assert nothing_reached_a_provider(fakes)


@pytest.mark.usefixtures("services")
def test_a_telegram_bot_of_a_test_key_is_stored_unchecked_and_its_campaign_is_simulated(http, test_caller, fakes,
                                                                                       tmp_path):
    campaign_id = campaign(http, test_caller, "TELEGRAM")
    base = f"/v1/campaign/{campaign_id}/telegram"
    http.put(f"{base}/template", headers=test_caller.headers, json={"body": "<b>Hi</b> {{name}}"})
    malformed = http.post(f"{base}/new-credentials", headers=test_caller.headers,
                          json={"telegram_bot_token": "not-a-token"})
    assert malformed.status_code == 400 and malformed.json["code"] == "invalid_credentials"
    assert http.post(f"{base}/new-credentials", headers=test_caller.headers,
                     json={"telegram_bot_token": new_bot_token()}).status_code == 200
    assert http.post(f"{base}/credentials/verify", headers=test_caller.headers,
                     json={"recipient": "+6591234567"}).status_code == 200
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("recipient,name\n+6591234567,Ann\n+6581234567,Bob\n+6590000001,Lost\n")
    upload_file(http, test_caller, campaign_id, numbers, channel="telegram")
    assert http.post(f"{base}/send", headers=test_caller.headers, json={}).status_code == 200
    stats = finished_stats(http, test_caller, campaign_id, "telegram")
    assert (stats["sent"], stats["error"]) == (2, 1)
    assert nothing_reached_a_provider(fakes)

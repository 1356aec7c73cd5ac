"""Transactional SMS through the public API: sent at once with a saved Twilio credential (the official twilio
library against the local Twilio fake), listed with the contract's filters in both encodings, got by id, and never
another user's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from prometheus_client import REGISTRY

from tests.integration.gateway.conftest import poll
from tests.integration.gateway.test_sms_sending import ACCOUNT, sms_campaign
from tests.integration.gateway.test_sms_sending import module_system as module_system  # noqa: F401 - fixture
from tests.integration.gateway.test_sms_sending import module_twilio as module_twilio  # noqa: F401 - fixture
from tests.integration.gateway.test_sms_sending import services as services  # noqa: F401 - fixture
from tests.integration.gateway.test_sms_sending import settings as settings  # noqa: F401 - fixture
from tests.integration.gateway.test_sms_sending import twilio as twilio  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("services")


@pytest.fixture
def caller(new_caller, http, twilio):  # after the fake is made fresh: its first message is this credential check
    caller = new_caller()
    base = sms_campaign(http, caller, upload=False)
    saved = http.post(f"{base}/new-credentials", headers=caller.headers,
                      json={**ACCOUNT, "recipient": "+6587654321", "label": "alerts"})
    assert saved.status_code == 200, saved.json
    return caller


def sent_count(status: str) -> float:
    labels = {"transport": "twilio", "status": status}
    return REGISTRY.get_sample_value("postman_sms_transactional_messages_total", labels) or 0.0


def send(http, caller, **fields):
    return http.post("/v1/transactional/sms/send", headers=caller.headers,
                     json={"body": "Your code is 123456", "recipient": "9123 4567", "label": "alerts", **fields})


def test_a_transactional_sms_is_accepted_sent_once_and_can_be_read_back(http, caller, twilio):
    accepted = sent_count("ACCEPTED")
    response = send(http, caller)
    assert response.status_code == 201, response.json
    assert sent_count("ACCEPTED") == accepted + 1  # the dashboard's transactional SMS panel
    sms = response.json
    assert sms["status"] == "ACCEPTED" and sms["recipient"] == "+6591234567" and isinstance(sms["id"], str)
    assert sms["credentials_label"] == "alerts" and sms["body"] == "Your code is 123456"
    assert sms["accepted_at"] and sms["created_at"] and sms["error_code"] is None
    assert [(m.to, m.body) for m in twilio.sent[1:]] == [("+6591234567", "Your code is 123456")]

    got = http.get(f"/v1/transactional/sms/{sms['id']}", headers=caller.headers)
    assert got.status_code == 200 and got.json["id"] == sms["id"] and got.json["status"] in ("ACCEPTED", "SENT",
                                                                                              "DELIVERED")
    listed = http.get("/v1/transactional/sms", headers=caller.headers).json
    assert listed["has_more"] is False and [m["id"] for m in listed["data"]] == [sms["id"]]


@pytest.mark.parametrize("fields, code, words", [
    ({"label": "nope"}, "invalid_credential_label", "no saved Twilio credential labelled 'nope'"),
    ({"recipient": "12"}, "invalid_recipient", "not a valid phone number"),
    ({"body": "   "}, "api_validation", "body"),
    ({"body": None}, "api_validation", "body"),
    ({"body": "x" * 1601}, "api_validation", "at most 1,600"),
])
def test_a_send_that_cannot_be_made_is_refused_before_twilio(http, caller, twilio, fields, code, words):
    response = send(http, caller, **fields)
    assert response.status_code == 400 and response.json["code"] == code, response.json
    assert words in response.json["message"]
    assert len(twilio.sent) == 1  # only the credential check


def test_a_number_twilio_refuses_is_an_error_and_is_recorded(http, caller):
    errors = sent_count("ERROR")
    response = send(http, caller, recipient="+44 7911 123456")
    assert response.status_code == 400 and response.json["code"] == "invalid_recipient"
    assert sent_count("ERROR") == errors + 1
    assert "twilio_21211" in response.json["message"]
    [recorded] = http.get("/v1/transactional/sms?status=ERROR", headers=caller.headers).json["data"]
    assert recorded["recipient"] == "+447911123456" and recorded["error_code"] == "twilio_21211"


def test_the_list_filters_sorts_and_pages_as_the_contract_says(http, caller, new_caller):
    ids = [send(http, caller, body=f"message {n}").json["id"] for n in range(3)]
    send(http, caller, recipient="+447911123456")  # an ERROR one
    first, second = (http.get(f"/v1/transactional/sms/{i}", headers=caller.headers).json for i in ids[:2])

    newest_first = http.get("/v1/transactional/sms?limit=2", headers=caller.headers).json
    assert newest_first["has_more"] is True and len(newest_first["data"]) == 2
    oldest_first = http.get("/v1/transactional/sms?sort_by=%2Bcreated_at&status=ACCEPTED&status=SENT"
                            "&status=DELIVERED", headers=caller.headers).json
    assert [m["id"] for m in oldest_first["data"]] == ids and oldest_first["has_more"] is False
    after_first = datetime.fromisoformat(first["created_at"].replace("Z", "+00:00"))
    # (times are shown to the millisecond, so "from the second one on" is gte of its time)
    for key in ("created_at.gte", "created_at[gte]"):
        later = http.get("/v1/transactional/sms", headers=caller.headers,
                         query_string={key: second["created_at"], "status": "ACCEPTED,SENT,DELIVERED"}).json
        assert ids[0] not in [m["id"] for m in later["data"]] and set(ids[1:]) <= {m["id"] for m in later["data"]}
    future = (after_first + timedelta(days=1)).astimezone(timezone.utc).isoformat()
    assert http.get("/v1/transactional/sms", headers=caller.headers,
                    query_string={"created_at.gte": future}).json["data"] == []
    assert http.get("/v1/transactional/sms?offset=3&limit=1", headers=caller.headers).json["has_more"] is False

    stranger = new_caller()
    assert http.get("/v1/transactional/sms", headers=stranger.headers).json == {"has_more": False, "data": []}
    assert http.get(f"/v1/transactional/sms/{ids[0]}", headers=stranger.headers).status_code == 404


@pytest.mark.parametrize("query, field", [
    ("status=LOST", "status"), ("sort_by=name", "sort_by"), ("limit=0", "limit"), ("limit=101", "limit"),
    ("created_at.gt=yesterday", "created_at.gt"), ("offset=-1", "offset"),
])
def test_a_bad_list_query_names_its_field(http, caller, query, field):
    response = http.get(f"/v1/transactional/sms?{query}", headers=caller.headers)
    assert response.status_code == 400 and response.json["code"] == "api_validation"
    assert f'"{field}"' in response.json["message"]


def test_a_non_numeric_id_is_a_400(http, caller):
    response = http.get("/v1/transactional/sms/abc", headers=caller.headers)
    assert response.status_code == 400 and response.json["code"] == "api_validation"


def replayed_callbacks(http, twilio, to: str) -> None:
    """What the fake Twilio tried to POST for the message to ``to``, made through the gateway (the test client has
    no port for Twilio to reach), with Twilio's own headers."""
    def made() -> list:
        return [c for c in list(twilio.callbacks) if c.params["To"] == to]

    callbacks = poll(made, lambda found: len(found) == 2, f"the fake's callbacks for {to}")
    for callback in callbacks:
        path = urlsplit(callback.url).path
        answer = http.post(path, data=callback.params, headers={"X-Twilio-Signature": callback.signature})
        assert answer.status_code == 204, answer.get_data(as_text=True)


@pytest.mark.parametrize("to, final, code", [("+6591234567", "DELIVERED", None),
                                            ("+6581239999", "ERROR", "twilio_30003")])
def test_twilio_receipts_move_a_transactional_sms_to_its_final_status(http, caller, twilio, to, final, code):
    twilio.undelivered.add("+6581239999")
    sms = send(http, caller, recipient=to).json
    assert sms["status"] == "ACCEPTED"
    [request] = [m for m in twilio.sent if m.to == to]
    assert f"/callbacks/twilio/sms/t/{sms['id']}/" in request.status_callback

    replayed_callbacks(http, twilio, to)

    moved = poll(lambda: http.get(f"/v1/transactional/sms/{sms['id']}", headers=caller.headers).json,
                 lambda m: m["status"] == final, f"the SMS to become {final}")
    assert moved["error_code"] == code and moved["sent_at"]
    assert (moved["delivered_at"] is not None) == (final == "DELIVERED")
    assert (moved["errored_at"] is not None) == (final == "ERROR")


def test_a_forged_transactional_callback_is_refused_and_changes_nothing(http, caller, twilio):
    sms = send(http, caller).json
    [request] = [m for m in twilio.sent if m.to == "+6591234567"]
    path = urlsplit(request.status_callback).path
    other_message = path.replace(f"/t/{sms['id']}/", f"/t/{int(sms['id']) + 1}/")
    answer = http.post(other_message, data={"MessageSid": "SMx", "MessageStatus": "delivered"})
    assert answer.status_code == 403 and answer.json["code"] == "unauthorized"
    tampered = path[:-1] + ("A" if path[-1] != "A" else "B")
    assert http.post(tampered, data={"MessageSid": "SMx", "MessageStatus": "delivered"}).status_code == 403
    # A valid URL with another message's SID is queued but dropped by sender-sms: the genuine "sent" receipt
    # queued after it is applied, and the forged "delivered" before it left no trace (it would have won).
    assert http.post(path, data={"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}).status_code == 204
    genuine_sent = poll(lambda: [c for c in list(twilio.callbacks) if c.params["MessageStatus"] == "sent"],
                        bool, "the fake's sent callback")[0]
    assert http.post(path, data=genuine_sent.params,
                     headers={"X-Twilio-Signature": genuine_sent.signature}).status_code == 204
    moved = poll(lambda: http.get(f"/v1/transactional/sms/{sms['id']}", headers=caller.headers).json,
                 lambda m: m["status"] != "ACCEPTED", "the genuine receipt to be applied")
    assert moved["status"] == "SENT" and moved["delivered_at"] is None

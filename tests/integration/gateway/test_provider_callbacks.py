"""Twilio's status callbacks at the gateway: only a URL Postman signed is accepted, and its report is queued on
sms.status as Twilio sent it, for sender-sms to check Twilio's own signature."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask

from postman_gateway.app import create_app
from postman_gateway.core.backends import EXTENSION as BACKENDS
from postman_shared.broker.topology import SMS_STATUS
from postman_shared.callbacks import sms_status_path

PUBLIC_URL = "https://postman.example.gov.sg"
FORM = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "undelivered", "ErrorCode": "30003", "To": "+6591234567",
        "AccountSid": "AC" + "b" * 32, "ApiVersion": "2010-04-01"}


@pytest.fixture
def app(settings) -> Iterator[Flask]:
    app = create_app(replace(settings, public_url=PUBLIC_URL))
    yield app
    app.extensions[BACKENDS].publisher.close()


def _queued(amqp_channel) -> list[dict]:
    reports = []
    while True:
        method, _properties, body = amqp_channel.basic_get(SMS_STATUS, auto_ack=True)
        if method is None:
            return reports
        reports.append(json.loads(body))


def test_a_callback_at_a_signed_url_is_queued_with_the_public_url_the_form_and_twilios_signature(
        app, settings, amqp_channel):
    path = sms_status_path(12, 3456, 78, settings.callback_signing_key)

    response = app.test_client().post(path, data=FORM, headers={"X-Twilio-Signature": "c2lnbmF0dXJl"})

    assert response.status_code == 204
    assert _queued(amqp_channel) == [{
        "campaign_id": 12, "recipient_id": 3456, "credential_id": 78, "message_sid": FORM["MessageSid"],
        "status": "undelivered", "error_code": "30003", "url": PUBLIC_URL + path, "params": FORM,
        "signature": "c2lnbmF0dXJl", "transactional_sms_id": 0,
    }]


def test_a_callback_without_twilios_signature_or_error_code_is_queued_with_empty_ones(app, settings, amqp_channel):
    form = {"MessageSid": FORM["MessageSid"], "MessageStatus": "delivered", "ErrorCode": ""}
    response = app.test_client().post(sms_status_path(1, 2, 3, settings.callback_signing_key), data=form)

    assert response.status_code == 204
    (report,) = _queued(amqp_channel)
    assert (report["status"], report["error_code"], report["signature"], report["params"]) == (
        "delivered", None, "", form)


@pytest.mark.parametrize("forge", [
    lambda path: path[:-1] + ("A" if path[-1] != "A" else "B"),  # a changed signature
    lambda path: path.replace("/3456/", "/3457/"),  # the signature of another recipient
    lambda path: path.rsplit("/", 1)[0] + "/x",  # not a signature at all
], ids=["tampered-signature", "other-recipient", "junk-signature"])
def test_a_forged_callback_url_is_403_and_nothing_is_queued(app, settings, amqp_channel, forge):
    path = forge(sms_status_path(12, 3456, 78, settings.callback_signing_key))

    response = app.test_client().post(path, data=FORM)

    assert (response.status_code, response.json["code"]) == (403, "unauthorized")
    assert "signature" in response.json["message"]
    assert _queued(amqp_channel) == []


def test_a_url_signed_with_another_key_is_403(app, settings, amqp_channel):
    path = sms_status_path(12, 3456, 78, settings.callback_signing_key + "-other")

    response = app.test_client().post(path, data=FORM)

    assert (response.status_code, response.json["code"]) == (403, "unauthorized")
    assert _queued(amqp_channel) == []


@pytest.mark.parametrize(("request_kwargs", "status", "mentions"), [
    ({"json": FORM}, 400, "form-encoded"),
    ({"data": {"MessageStatus": "delivered"}}, 400, "MessageSid"),
    ({"data": {"MessageSid": FORM["MessageSid"]}}, 400, "MessageStatus"),
    ({"data": {**FORM, "Body": "x" * 20_000}}, 413, "at most"),
    ({"data": b"MessageSid=SM1&MessageStatus=\xff", "content_type": "application/x-www-form-urlencoded"}, 400,
     "UTF-8"),
], ids=["json", "no-sid", "no-status", "too-large", "not-utf8"])
def test_a_body_that_is_not_a_small_status_form_is_refused_with_a_clear_error(
        app, settings, amqp_channel, request_kwargs, status, mentions):
    response = app.test_client().post(sms_status_path(12, 3456, 78, settings.callback_signing_key),
                                      **request_kwargs)

    assert response.status_code == status
    assert set(response.json) == {"code", "message"}
    assert mentions in response.json["message"]
    assert _queued(amqp_channel) == []

"""The Telegram webhook: an update with the bot's secret token goes on telegram.updates; anything else is refused
with the API's error shape and publishes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from postman_gateway.core.backends import EXTENSION as BACKENDS
from postman_shared.broker.topology import TELEGRAM_UPDATES
from postman_shared.webhooks import SECRET_HEADER, telegram_webhook_secret

CREDENTIAL_ID = 4242
UPDATE = {"update_id": 900001, "message": {"message_id": 1, "date": 1767225600, "text": "/start",
                                           "from": {"id": 77, "is_bot": False, "first_name": "Tan"},
                                           "chat": {"id": 77, "type": "private"}}}


@pytest.fixture(autouse=True)
def close_publisher(app) -> Iterator[None]:
    yield
    app.extensions[BACKENDS].publisher.close()


@pytest.fixture
def secret(settings) -> str:
    return telegram_webhook_secret(settings.callback_signing_key, CREDENTIAL_ID)


def queued(amqp_channel) -> list[dict]:
    messages = []
    while True:
        method, _properties, body = amqp_channel.basic_get(TELEGRAM_UPDATES, auto_ack=True)
        if method is None:
            return messages
        messages.append(json.loads(body))


def test_an_update_with_the_bots_secret_token_is_queued_for_sender_telegram(http, amqp_channel, secret):
    response = http.post(f"/telegram/webhook/{CREDENTIAL_ID}", json=UPDATE, headers={SECRET_HEADER: secret})

    assert (response.status_code, response.json) == (200, {})
    assert queued(amqp_channel) == [{"credential_id": CREDENTIAL_ID, "update": UPDATE}]


@pytest.mark.parametrize("presented", [None, "", "wrong-secret", "other-bot"])
def test_a_wrong_or_missing_secret_token_is_401_and_nothing_is_queued(http, amqp_channel, settings, presented):
    if presented == "other-bot":
        presented = telegram_webhook_secret(settings.callback_signing_key, CREDENTIAL_ID + 1)
    headers = {} if presented is None else {SECRET_HEADER: presented}

    response = http.post(f"/telegram/webhook/{CREDENTIAL_ID}", json=UPDATE, headers=headers)

    assert response.status_code == 401
    assert response.json["code"] == "unathenticated"
    assert SECRET_HEADER in response.json["message"]
    assert queued(amqp_channel) == []


@pytest.mark.parametrize(("body", "problem"), [
    (b"not json", "JSON object"),
    (b"[1, 2]", "JSON object"),
    (b'{"message": {}}', "update_id"),
    (b'{"update_id": "12"}', "update_id"),
    (b'{"update_id": true}', "update_id"),
], ids=["not-json", "array", "no-update-id", "string-id", "boolean-id"])
def test_a_body_that_is_not_an_update_is_400(http, amqp_channel, secret, body, problem):
    response = http.post(f"/telegram/webhook/{CREDENTIAL_ID}", data=body, content_type="application/json",
                         headers={SECRET_HEADER: secret})

    assert response.status_code == 400
    assert response.json["code"] == "malformed"
    assert problem in response.json["message"]
    assert queued(amqp_channel) == []


def test_a_body_over_one_mebibyte_is_413(http, amqp_channel, secret):
    update = dict(UPDATE, padding="x" * (1024 * 1024))
    response = http.post(f"/telegram/webhook/{CREDENTIAL_ID}", json=update, headers={SECRET_HEADER: secret})

    assert response.status_code == 413
    assert set(response.json) == {"code", "message"}
    assert queued(amqp_channel) == []


def test_the_secret_is_checked_before_the_body_is_read(http, amqp_channel):
    response = http.post(f"/telegram/webhook/{CREDENTIAL_ID}", data=b"not json", content_type="application/json",
                         headers={SECRET_HEADER: "wrong"})
    assert response.status_code == 401


def test_only_post_is_served_and_the_id_must_be_a_number(http, secret):
    assert http.get(f"/telegram/webhook/{CREDENTIAL_ID}").status_code == 405
    assert http.post("/telegram/webhook/abc", json=UPDATE, headers={SECRET_HEADER: secret}).status_code == 404


def test_every_telegram_route_is_outside_v1_and_refuses_a_caller_without_the_secret(app, http, amqp_channel):
    """The access-control matrix covers /v1 only: a route added under /telegram must prove its caller itself."""
    routes = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/telegram/")]
    assert [(rule.rule, sorted(rule.methods - {"OPTIONS"})) for rule in routes] == [
        ("/telegram/webhook/<int:credential_id>", ["POST"])]
    for rule in routes:
        response = http.post(rule.rule.replace("<int:credential_id>", str(CREDENTIAL_ID)), json=UPDATE)
        assert response.status_code == 401
    assert queued(amqp_channel) == []

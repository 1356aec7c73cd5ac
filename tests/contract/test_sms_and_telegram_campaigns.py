"""Contract, section 4 for SMS and Telegram: each channel's routes driven as the generated client drives them (`{}`
for send and the optional bodies, bodiless retry and refresh-stats with axios' form content type), against the local
Twilio and Telegram fakes through the real client libraries; every answer checked against the served document."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.conftest import TESTDATA
from tests.contract.conftest import BOT_TOKEN, TWILIO_ACCOUNT
from tests.contract.flows import bodiless_post, create_campaign, empty_json_post, poll, upload, wait_until_logged
from tests.integration.sender_telegram.conftest import contact, message_update

pytestmark = pytest.mark.usefixtures("system")

SMS_TEMPLATE = {"body": "Dear {{name}}, your appointment is tomorrow."}
SUBSCRIBERS = {"+6591230001": 8_100_001, "+6591230002": 8_100_002}


def test_an_sms_campaign_through_every_sms_route(api, caller, twilio):
    headers = caller.headers
    campaign_id = create_campaign(api, headers, "SMS", "SMS reminders")
    base = f"/v1/campaign/{campaign_id}/sms"

    template = api.put(f"{base}/template", headers=headers, json=SMS_TEMPLATE)
    assert template.status_code == 200 and template.json["template"]["params"] == ["name"], template.json
    status = upload(api, headers, campaign_id, "sms", (TESTDATA / "sms_sg_numbers.csv").read_bytes(), "numbers.csv")
    assert status["num_recipients"] == 6 and status["preview"]["body"] == "Dear A, your appointment is tomorrow."

    nothing = empty_json_post(api, f"{base}/new-credentials", headers)  # the client without arguments
    assert nothing.status_code == 400 and nothing.json["code"] == "invalid_credentials", nothing.json
    added = api.post(f"{base}/new-credentials", headers=headers,
                     json={**TWILIO_ACCOUNT, "recipient": "+65 8765 4321", "label": "contract-sms"})
    assert added.status_code == 200 and added.json == {"message": "OK"}, added.json
    no_label = empty_json_post(api, f"{base}/credentials", headers)
    assert no_label.status_code == 400 and no_label.json["code"] == "invalid_credential_label", no_label.json
    reused = api.post(f"{base}/credentials", headers=headers, json={"label": "contract-sms",
                                                                   "recipient": "+6587654321"})
    assert reused.status_code == 200 and reused.json == {"message": "OK"}, reused.json
    assert api.get(base, headers=headers).json["has_credential"] is True

    preview = api.get(f"{base}/preview", headers=headers)
    assert preview.status_code == 200 and preview.json["preview"]["body"] == "Dear A, your appointment is tomorrow."

    huge = api.post(f"{base}/send", headers=headers, json={"rate": 2**64 - 1})  # found by the fuzzer: was a 500
    assert huge.status_code == 400 and "rate" in huge.json["message"], huge.json
    sent = empty_json_post(api, f"{base}/send", headers)  # send() without arguments: `{}`
    assert sent.status_code == 200 and sent.json["campaign_id"] == campaign_id, sent.json
    stats = wait_until_logged(api, headers, campaign_id, "sms")
    assert stats["unsent"] == 0 and stats["sent"] + stats["error"] + stats["invalid"] == 6
    assert stats["unsubscribed"] == 0  # numbers that replied STOP (an extra key)
    finished = bodiless_post(api, f"{base}/stop", headers)
    assert finished.status_code == 400 and "nothing to stop" in finished.json["message"], finished.json
    recounted = bodiless_post(api, f"{base}/refresh-stats", headers)
    assert recounted.status_code == 200 and recounted.json["sent"] == stats["sent"]
    export = api.get(f"{base}/export", headers=headers)
    assert export.status_code == 200 and len(export.json) == 6
    assert all(set(row) == {"recipient", "status", "error_code", "updated_at", "error_sub_type"}
               for row in export.json)
    retried = bodiless_post(api, f"{base}/retry", headers)
    assert retried.status_code == 200 and retried.json["campaign_id"] == campaign_id, retried.json

    copy = api.post(f"{base}/duplicate", headers=headers, json={"name": "SMS copy"})
    assert copy.status_code == 201 and copy.json["type"] == "SMS", copy.json
    cleared = api.delete(f"/v1/campaign/{copy.json['id']}/sms/upload/status", headers=headers)
    assert cleared.status_code == 200 and cleared.json == {"id": str(copy.json["id"])}
    listed = api.post(f"{base}/select-list", headers=headers, json={"list_id": 3})
    assert listed.status_code == 400 and listed.json["code"] == "invalid_parameters"


def subscribe(http, telegram, phone: str, chat: int, first_update: int) -> None:
    """A person starts the bot and shares their contact; Telegram delivers both updates to the bot's webhook."""
    webhook = telegram.webhooks[BOT_TOKEN]
    path = urlsplit(webhook.url).path
    secret = {"X-Telegram-Bot-Api-Secret-Token": webhook.secret_token}
    for update in (message_update(first_update, chat, "/start"),
                   message_update(first_update + 1, chat, contact=contact(phone.removeprefix("+"), chat))):
        assert http.post(path, json=update, headers=secret).status_code == 200


def test_a_telegram_campaign_through_every_telegram_route(api, caller, telegram):
    headers = caller.headers
    campaign_id = create_campaign(api, headers, "TELEGRAM", "Telegram reminders")
    base = f"/v1/campaign/{campaign_id}/telegram"

    template = api.put(f"{base}/template", headers=headers, json={"body": "<b>Dear {{name}}</b>, see you at 9."})
    assert template.status_code == 200 and template.json["template"]["params"] == ["name"], template.json
    rows = "recipient,name\n" + "".join(f"{phone},Person {i}\n" for i, phone in enumerate(SUBSCRIBERS))
    status = upload(api, headers, campaign_id, "telegram", rows.encode(), "subscribers.csv")
    assert status["num_recipients"] == 2 and status["preview"] == {"body": "<b>Dear Person 0</b>, see you at 9."}

    added = api.post(f"{base}/new-credentials", headers=headers,
                     json={"telegram_bot_token": BOT_TOKEN, "label": "contract-bot"})
    assert added.status_code == 200 and added.json == {"message": "OK"}, added.json
    for sub in ("credentials", "credentials/verify", "upload/complete"):  # each without arguments: `{}`
        assert empty_json_post(api, f"{base}/{sub}", headers).status_code == 400, sub
    chosen = api.post(f"{base}/credentials", headers=headers, json={"label": "contract-bot"})
    assert chosen.status_code == 200, chosen.json
    for n, (phone, chat) in enumerate(SUBSCRIBERS.items()):
        subscribe(api.client, telegram, phone, chat, 10 * n + 1)
    poll(lambda: {c.params.get("chat_id") for c in telegram.sent}, lambda chats: set(SUBSCRIBERS.values()) <= chats,
         "the subscriptions to be confirmed")
    verified = api.post(f"{base}/credentials/verify", headers=headers, json={"recipient": "+6591230001"})
    assert verified.status_code == 200 and verified.json == {"message": "OK"}, verified.json
    stranger = api.post(f"{base}/credentials/verify", headers=headers, json={"recipient": "+6581239999"})
    assert stranger.status_code == 400, stranger.json

    details = api.get(base, headers=headers)
    assert details.status_code == 200 and details.json["num_recipients"] == 2
    assert details.json["campaign"]["has_credential"] is True and details.json["campaign"]["id"] == campaign_id
    preview = api.get(f"{base}/preview", headers=headers)
    assert preview.json == {"preview": {"body": "<b>Dear Person 0</b>, see you at 9."}}

    sent = empty_json_post(api, f"{base}/send", headers)
    assert sent.status_code == 200 and sent.json["campaign_id"] == campaign_id, sent.json
    stats = wait_until_logged(api, headers, campaign_id, "telegram")
    assert (stats["sent"], stats["error"], stats["unsent"]) == (2, 0, 0)
    assert bodiless_post(api, f"{base}/refresh-stats", headers).json["sent"] == 2
    export = api.get(f"{base}/export", headers=headers)
    assert sorted(row["recipient"] for row in export.json) == sorted(SUBSCRIBERS)
    assert bodiless_post(api, f"{base}/retry", headers).status_code == 200

    draft = create_campaign(api, headers, "TELEGRAM", "Never sent")
    unsent = bodiless_post(api, f"/v1/campaign/{draft}/telegram/stop", headers)
    assert unsent.status_code == 400 and "has not been sent" in unsent.json["message"], unsent.json

    copy = empty_json_post(api, f"{base}/duplicate", headers)  # name is optional for Telegram
    assert copy.status_code == 201 and copy.json["name"], copy.json
    cleared = api.delete(f"{base}/upload/status", headers=headers)
    assert cleared.status_code == 200 and cleared.json == {"id": str(campaign_id)}


def test_an_sms_campaign_stopped_while_it_sends_and_resumed(api, caller, twilio):
    """The stop extension: at one message a second, the campaign is still sending when stopped; what was not handed
    to Twilio stays unsent, and retry resumes it once the stop has settled."""
    headers = caller.headers
    campaign_id = create_campaign(api, headers, "SMS", "Slow SMS")
    base = f"/v1/campaign/{campaign_id}/sms"
    assert api.put(f"{base}/template", headers=headers, json=SMS_TEMPLATE).status_code == 200
    upload(api, headers, campaign_id, "sms", (TESTDATA / "sms_sg_numbers.csv").read_bytes(), "numbers.csv")
    account = {**TWILIO_ACCOUNT, "recipient": "+6587654321", "label": "contract-slow-sms"}
    assert api.post(f"{base}/new-credentials", headers=headers, json=account).status_code == 200
    assert api.post(f"{base}/send", headers=headers, json={"rate": 1}).status_code == 200

    stopped = bodiless_post(api, f"{base}/stop", headers)
    assert stopped.status_code == 200 and stopped.json == {"campaign_id": campaign_id, "status": "STOPPED"}
    too_soon = bodiless_post(api, f"{base}/retry", headers)
    assert too_soon.status_code == 400 and "still stopping" in too_soon.json["message"], too_soon.json
    held = poll(lambda: api.get(f"{base}/stats", headers=headers).json, lambda s: s["status"] == "STOPPED",
                "the stop to show")
    assert held["unsent"] > 0, held

    resumed = poll(lambda: bodiless_post(api, f"{base}/retry", headers), lambda r: r.status_code == 200,
                   "the stop to settle", timeout=30)
    assert resumed.json["campaign_id"] == campaign_id
    stats = wait_until_logged(api, headers, campaign_id, "sms")
    assert stats["unsent"] == 0 and stats["sent"] + stats["error"] + stats["invalid"] == 6

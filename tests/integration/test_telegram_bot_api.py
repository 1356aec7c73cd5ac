"""The Bot API client against a local Telegram that speaks the real wire format."""

from __future__ import annotations

import json

import pytest
import requests

from postman_shared.telegram_bot import BotApi, BotApiError
from tests.fakes.telegram import BLOCKED, CHAT_NOT_FOUND, FakeTelegram
from tests.support.stores import free_port

TOKEN = "7012345678:AAH-secret-part-of-the-token_x"
SECRET = "Zk3-webhook_secret"


@pytest.fixture
def telegram():
    with FakeTelegram(tokens={TOKEN}, blocked={4001}, missing={4004}) as fake:
        yield fake


@pytest.fixture
def bot(telegram):
    with BotApi(TOKEN, telegram.base_url) as api:
        yield api


def test_get_me_with_a_good_token_returns_the_bot(bot):
    me = bot.get_me()
    assert me["id"] == 7012345678
    assert me["is_bot"] is True
    assert me["username"] == "postman_7012345678_bot"


def test_get_me_with_a_bad_token_is_a_permanent_401(telegram):
    with BotApi("7012345678:wrong", telegram.base_url) as api, pytest.raises(BotApiError) as caught:
        api.get_me()
    assert caught.value.error_code == 401
    assert caught.value.description == "Unauthorized"
    assert not caught.value.transient


def test_set_webhook_sends_the_url_the_secret_token_and_the_updates_wanted(bot, telegram):
    assert bot.set_webhook("https://postman.example/telegram/webhook/17", SECRET) is True

    [call] = telegram.calls_of("setWebhook")
    assert call.token == TOKEN
    assert call.params == {"url": "https://postman.example/telegram/webhook/17", "secret_token": SECRET,
                           "allowed_updates": ["message"]}
    assert telegram.webhooks[TOKEN].secret_token == SECRET


def test_delete_webhook_forgets_it(bot, telegram):
    bot.set_webhook("https://postman.example/telegram/webhook/17", SECRET)
    assert bot.delete_webhook() is True
    assert TOKEN not in telegram.webhooks


def test_send_message_sends_html_and_a_contact_request_keyboard(bot, telegram):
    keyboard = {"keyboard": [[{"text": "Share my phone number", "request_contact": True}]],
                "one_time_keyboard": True, "resize_keyboard": True}

    message = bot.send_message(123, "<b>Welcome</b> to Postman", reply_markup=keyboard)

    assert message["chat"]["id"] == 123
    assert isinstance(message["message_id"], int)
    [call] = telegram.sent
    assert call.params == {"chat_id": 123, "text": "<b>Welcome</b> to Postman", "parse_mode": "HTML",
                           "reply_markup": keyboard}


def test_a_429_carries_retry_after_and_is_transient(telegram):
    with FakeTelegram(tokens={TOKEN}, throttle_first=1, retry_after=7) as throttling:
        with BotApi(TOKEN, throttling.base_url) as api:
            with pytest.raises(BotApiError) as caught:
                api.send_message(123, "hello")
            assert caught.value.error_code == 429
            assert caught.value.retry_after == 7
            assert caught.value.transient
            assert api.send_message(123, "hello")["text"] == "hello"  # the throttling has passed
        assert [c.answered for c in throttling.calls_of("sendMessage")] == [429, 200]


def test_a_blocked_bot_is_a_permanent_403(bot):
    with pytest.raises(BotApiError) as caught:
        bot.send_message(4001, "hello")
    assert (caught.value.error_code, caught.value.description) == (403, BLOCKED)
    assert caught.value.retry_after is None
    assert not caught.value.transient


def test_an_unknown_chat_is_a_permanent_400(bot):
    with pytest.raises(BotApiError) as caught:
        bot.send_message(4004, "hello")
    assert (caught.value.error_code, caught.value.description) == (400, CHAT_NOT_FOUND)
    assert not caught.value.transient


def test_an_unreachable_api_is_transient_and_its_error_does_not_show_the_token():
    with BotApi(TOKEN, f"http://127.0.0.1:{free_port()}") as api, pytest.raises(BotApiError) as caught:
        api.send_message(123, "hello")
    assert caught.value.error_code is None
    assert caught.value.transient
    assert TOKEN not in str(caught.value)
    assert "<bot-token>" in str(caught.value)  # the URL is still there to diagnose, redacted


def test_the_token_is_absent_from_every_error_and_the_client_repr(telegram, bot):
    with pytest.raises(BotApiError) as caught:
        bot.send_message(4001, "hello")
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)
    assert TOKEN not in repr(bot)
    assert TOKEN.split(":")[1] not in str(caught.value)


def test_the_fake_reads_form_bodies_as_telegram_does(telegram):
    keyboard = {"keyboard": [[{"text": "Share", "request_contact": True}]]}
    reply = requests.post(f"{telegram.base_url}/bot{TOKEN}/sendMessage", timeout=10,
                          data={"chat_id": "123", "text": "<i>hi</i>", "parse_mode": "HTML",
                                "reply_markup": json.dumps(keyboard)})
    assert reply.json()["ok"] is True
    [call] = telegram.sent
    assert json.loads(call.params["reply_markup"]) == keyboard


def test_urllib3s_request_log_line_does_not_show_the_token(bot, caplog):
    with caplog.at_level("DEBUG", logger="urllib3.connectionpool"):
        bot.get_me()
    lines = [record.getMessage() for record in caplog.records if record.name == "urllib3.connectionpool"]
    assert any("/getMe" in line for line in lines)
    assert not any(TOKEN in line for line in lines)

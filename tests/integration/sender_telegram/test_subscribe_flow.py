"""A person subscribes to a bot end to end: the bot is registered with AddBot, Telegram (the local fake) delivers
/start and then the shared contact to the real gateway's webhook, sender-telegram answers through the Bot API and
stores the number; a campaign message to that number then reaches their chat. No log line holds the token."""

from __future__ import annotations

import secrets
from dataclasses import replace

from sqlalchemy import text

from postman.v1 import senders_pb2, senders_pb2_grpc
from postman_gateway.bootstrap import GatewayServer
from postman_shared.grpc import client
from tests.fakes.telegram import FakeTelegram
from tests.integration.sender_email.support import wait_for_events, wait_until
from tests.integration.sender_telegram.conftest import (
    StoredBot,
    contact,
    message_update,
    new_bot_token,
    rendered,
)
from tests.support import service_identity
from tests.support.inprocess import running
from tests.support.stores import free_port


def replies_to(telegram: FakeTelegram, chat_id: int) -> list[dict]:
    return [c.params for c in telegram.sent if c.params["chat_id"] == chat_id]


def test_start_then_sharing_the_contact_subscribes_the_number_and_campaign_messages_reach_the_chat(
        tg_settings, amqp_channel, database, publish, campaign_id, capsys):
    token, user_id, person = new_bot_token(), secrets.randbelow(10**9) + 1, 5_000_000 + secrets.randbelow(10**6)
    port = free_port()
    settings = replace(tg_settings, gateway_port=port, public_url=f"http://127.0.0.1:{port}")
    gateway = GatewayServer(settings)
    with FakeTelegram(tokens={token}) as telegram, \
            running(replace(settings, telegram_api_base=telegram.base_url), "campaign", "sender-telegram"):
        gateway.start()
        try:
            senders = service_identity.stub(settings.telegram_sender_addr, senders_pb2_grpc.TelegramSenderServiceStub)
            stored = client.call(senders.AddBot, senders_pb2.AddBotRequest(user_id=user_id, bot_token=token))

            assert telegram.deliver_update(token, message_update(1, person, "/start")) == 200
            wait_until(lambda: len(replies_to(telegram, person)) == 1, what="the reply to /start")
            assert telegram.deliver_update(token, message_update(2, person,
                                                                 contact=contact("6591234567", person))) == 200
            wait_until(lambda: len(replies_to(telegram, person)) == 2, what="the reply to the contact")
            forged = telegram.deliver_update(token, message_update(3, person, contact=contact("6581234567", person)),
                                             secret_token="forged")

            bot = StoredBot(stored.credential_id, user_id, token)
            (message,) = rendered(campaign_id, bot, 1, to="+6591234567")
            publish([message])
            (event,) = wait_for_events(amqp_channel, 1)
            replies = replies_to(telegram, person)
        finally:
            gateway.stop()

    ask, confirmed, campaign_message = replies
    assert ask["reply_markup"]["keyboard"] == [[{"text": "Share my phone number", "request_contact": True}]]
    assert "+6591234567" in confirmed["text"] and confirmed["reply_markup"] == {"remove_keyboard": True}
    assert forged == 401
    with database.session() as session:
        rows = session.execute(text("SELECT phone_number, chat_id FROM telegram_subscribers WHERE bot_id = :b"),
                               {"b": bot.bot_id}).all()
    assert [tuple(row) for row in rows] == [("+6591234567", person)]
    assert event["status"] == "SENT"
    assert (campaign_message["text"], campaign_message["parse_mode"]) == (
        "<b>Dear person 0</b>, your code is <code>0</code>. 你好", "HTML")
    output = capsys.readouterr()
    assert "bot registered" in output.out and "telegram update answered" in output.out  # the logs were captured
    assert token.split(":")[1] not in output.out + output.err

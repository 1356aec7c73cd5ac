"""The telegram.updates consumer: an update of a bot that is no longer stored is dropped, a message that is not an
update is dead-lettered, and neither stops the updates behind it from being answered."""

from __future__ import annotations

import time
from dataclasses import replace

from postman_shared.broker import OutgoingMessage, Publisher
from postman_shared.broker.topology import DEAD_LETTER_QUEUE, TELEGRAM_UPDATES
from postman_shared.messages import TelegramUpdate
from tests.fakes.telegram import FakeTelegram
from tests.integration.sender_email.support import wait_until
from tests.integration.sender_telegram.conftest import message_update
from tests.support.inprocess import running


def dead_letter_ids(channel) -> list[str]:
    ids = []
    while True:
        method, properties, _body = channel.basic_get(DEAD_LETTER_QUEUE, auto_ack=True)
        if method is None:
            return ids
        ids.append(properties.message_id)


def test_unknown_credentials_are_dropped_malformed_updates_dead_lettered_and_the_rest_answered(
        tg_settings, amqp_channel, stores, bot):
    dead_letter_ids(amqp_channel)  # what earlier tests left there
    gone = TelegramUpdate(credential_id=2**62, update=message_update(1, 4242, "/start"))
    answered = TelegramUpdate(credential_id=bot.id, update=message_update(2, 4343, "/help"))
    publisher = Publisher(stores.amqp_url, app_id="test")
    with FakeTelegram(tokens={bot.token}) as telegram, \
            running(replace(tg_settings, telegram_api_base=telegram.base_url), "campaign", "sender-telegram"):
        publisher.publish([
            OutgoingMessage(TELEGRAM_UPDATES, gone.to_dict(), gone.message_id),
            OutgoingMessage(TELEGRAM_UPDATES, {"credential_id": bot.id, "update": "not an object"}, "malformed-1"),
            OutgoingMessage(TELEGRAM_UPDATES, answered.to_dict(), answered.message_id),
        ])
        wait_until(lambda: len(telegram.sent) == 1, what="the answer to /help")
        deadline = time.monotonic() + 10
        dead: list[str] = []
        while "malformed-1" not in dead and time.monotonic() < deadline:
            dead += dead_letter_ids(amqp_channel)
            time.sleep(0.05)
        left = amqp_channel.queue_declare(TELEGRAM_UPDATES, passive=True).method.message_count
    publisher.close()

    assert [c.params["chat_id"] for c in telegram.sent] == [4343]
    assert dead == ["malformed-1"]  # the update of the missing bot was acked, not dead-lettered
    assert left == 0

"""What a bot answers to each kind of update, and what it stores (the real subscribers table)."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import text

from postman_sender_telegram import conversation
from postman_sender_telegram.subscribers import SubscriberStore
from tests.integration.sender_telegram.conftest import contact, message_update

REGION = "SG"


@pytest.fixture
def bot_id() -> int:
    return secrets.randbelow(10**10) + 10**9


@pytest.fixture
def user_id() -> int:
    return secrets.randbelow(10**9) + 10**6


def stored(database, bot_id: int) -> set[tuple[str, int, int]]:
    with database.session() as session:
        rows = session.execute(text("SELECT phone_number, chat_id, telegram_user_id FROM telegram_subscribers "
                                    "WHERE bot_id = :b"), {"b": bot_id}).all()
    return {tuple(row) for row in rows}


def respond(update, bot_id, subscribers):
    return conversation.respond(update, bot_id, subscribers, REGION)


@pytest.mark.parametrize("command", ["/start", "/start@postman_test_bot", "/start campaign-42"])
def test_start_asks_for_the_phone_number_with_a_share_contact_keyboard(database, subscribers, bot_id, user_id,
                                                                      command):
    reply = respond(message_update(1, user_id, command), bot_id, subscribers)

    assert reply.chat_id == user_id
    assert "share your phone number" in reply.text
    assert reply.reply_markup == {"keyboard": [[{"text": "Share my phone number", "request_contact": True}]],
                                  "one_time_keyboard": True, "resize_keyboard": True}
    assert stored(database, bot_id) == set()


@pytest.mark.parametrize("shared", ["6591234567", "+6591234567", "65 9123 4567"])
def test_the_persons_own_contact_is_stored_in_e164_and_confirmed_with_the_keyboard_removed(
        database, subscribers, bot_id, user_id, shared):
    reply = respond(message_update(2, user_id, contact=contact(shared, user_id)), bot_id, subscribers)

    assert stored(database, bot_id) == {("+6591234567", user_id, user_id)}
    assert "+6591234567" in reply.text
    assert reply.reply_markup == {"remove_keyboard": True}


def test_a_number_of_another_country_is_read_as_international(database, subscribers, bot_id, user_id):
    respond(message_update(2, user_id, contact=contact("447911123456", user_id)), bot_id, subscribers)
    assert stored(database, bot_id) == {("+447911123456", user_id, user_id)}


@pytest.mark.parametrize("owner", [None, "someone else"], ids=["contact card", "another user"])
def test_someone_elses_contact_is_not_stored_and_the_person_is_asked_for_their_own(
        database, subscribers, bot_id, user_id, owner):
    others = None if owner is None else user_id + 1
    reply = respond(message_update(3, user_id, contact=contact("6591234567", others)), bot_id, subscribers)

    assert "someone else's contact" in reply.text
    assert reply.reply_markup["keyboard"][0][0]["request_contact"] is True
    assert stored(database, bot_id) == set()


@pytest.mark.parametrize("shared", ["1234", "", "659123456789012"])
def test_a_number_that_is_not_valid_is_refused_and_not_stored(database, subscribers, bot_id, user_id, shared):
    reply = respond(message_update(4, user_id, contact=contact(shared, user_id)), bot_id, subscribers)

    assert "is not a phone number messages can be sent to" in reply.text
    assert reply.reply_markup["keyboard"][0][0]["request_contact"] is True
    assert stored(database, bot_id) == set()


def test_updatenumber_asks_again_and_the_new_number_replaces_the_old_one(database, subscribers, bot_id, user_id):
    respond(message_update(5, user_id, contact=contact("6591234567", user_id)), bot_id, subscribers)

    ask = respond(message_update(6, user_id, "/updatenumber"), bot_id, subscribers)
    respond(message_update(7, user_id, contact=contact("6581234567", user_id)), bot_id, subscribers)

    assert ask.reply_markup["keyboard"][0][0]["request_contact"] is True
    assert stored(database, bot_id) == {("+6581234567", user_id, user_id)}


def test_a_number_shared_by_a_second_account_moves_to_that_account(database, subscribers, bot_id, user_id):
    respond(message_update(8, user_id, contact=contact("6591234567", user_id)), bot_id, subscribers)
    respond(message_update(9, user_id + 1, contact=contact("6591234567", user_id + 1)), bot_id, subscribers)

    assert stored(database, bot_id) == {("+6591234567", user_id + 1, user_id + 1)}


def test_the_same_update_handled_twice_stores_one_row_and_gives_the_same_reply(database, subscribers, bot_id,
                                                                              user_id):
    update = message_update(10, user_id, contact=contact("6591234567", user_id))
    first, second = respond(update, bot_id, subscribers), respond(update, bot_id, subscribers)

    assert first == second
    assert stored(database, bot_id) == {("+6591234567", user_id, user_id)}


def test_subscriptions_are_per_bot(database, subscribers, bot_id, user_id):
    respond(message_update(11, user_id, contact=contact("6591234567", user_id)), bot_id, subscribers)
    respond(message_update(12, user_id, contact=contact("6581234567", user_id)), bot_id + 1, subscribers)

    assert stored(database, bot_id) == {("+6591234567", user_id, user_id)}
    assert SubscriberStore(database).chats(bot_id + 1, ["+6591234567", "+6581234567"]) == {"+6581234567": user_id}


@pytest.mark.parametrize("said", ["/help", "hello", "/unknown"])
def test_help_and_anything_else_list_the_commands(database, subscribers, bot_id, user_id, said):
    reply = respond(message_update(13, user_id, said), bot_id, subscribers)

    assert reply.reply_markup is None
    for command in ("/start", "/updatenumber", "/help"):
        assert command in reply.text


def test_group_chats_and_updates_without_a_message_get_no_reply(database, subscribers, bot_id, user_id):
    assert respond(message_update(14, user_id, "/start", chat_type="group"), bot_id, subscribers) is None
    assert respond({"update_id": 15, "edited_message": {"text": "x"}}, bot_id, subscribers) is None
    assert respond({"update_id": 16, "message": "not an object"}, bot_id, subscribers) is None

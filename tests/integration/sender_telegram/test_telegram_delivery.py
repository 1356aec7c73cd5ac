"""sender-telegram end to end over the real queues and database, its Bot API client talking to a local server that
speaks Telegram's wire format; campaign runs too, for the sealed bot token."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import text

from postman_shared.broker.topology import DELIVERY_EVENTS
from postman_shared.telegram_bot import telegram_html
from tests.fakes.telegram import BLOCKED, CHAT_NOT_FOUND, FakeTelegram
from tests.integration.sender_email.support import wait_for_events
from tests.integration.sender_telegram.conftest import chat_of, rendered, store_bot, subscribe_all
from tests.support.inprocess import running

NOT_SUBSCRIBED = "recipient has not subscribed to the bot"


def _running(tg_settings, telegram: FakeTelegram):
    return running(replace(tg_settings, telegram_api_base=telegram.base_url), "campaign", "sender-telegram")


def _recorded(database, campaign_id: int) -> dict[str, tuple]:
    with database.session() as session:
        rows = session.execute(text("SELECT message_id, status, error_code, provider_message_id "
                                    "FROM telegram_deliveries WHERE campaign_id = :c"), {"c": campaign_id}).all()
    return {row.message_id: (row.status, row.error_code, row.provider_message_id) for row in rows}


def test_each_subscribed_number_gets_exactly_its_message_as_telegram_html_in_its_own_chat(
        tg_settings, amqp_channel, database, publish, subscribers, campaign_id, bot):
    messages = rendered(campaign_id, bot, 8, body="<p>Dear <b>Tan</b>,</p><br><script>x()</script>"
                                                  "<i>see</i> <a href=\"https://go.gov.sg/x\">this</a>")
    messages = [replace(m, body=f"{m.body} #{n}") for n, m in enumerate(messages)]
    subscribe_all(subscribers, bot, messages)
    with FakeTelegram(tokens={bot.token}) as telegram, _running(tg_settings, telegram):
        publish(messages)
        events = wait_for_events(amqp_channel, len(messages))
        sent = telegram.sent

    assert sorted(e["recipient_id"] for e in events) == sorted(m.recipient_id for m in messages)
    assert {(e["status"], e["kind"]) for e in events} == {("SENT", "delivery")}
    assert sorted((c.params["chat_id"], c.params["text"]) for c in sent) == sorted(
        (chat_of(m.to), telegram_html(m.body)) for m in messages)
    assert {(c.token, c.params["parse_mode"]) for c in sent} == {(bot.token, "HTML")}
    assert "<script>" not in sent[0].params["text"] and "<b>Tan</b>" in sent[0].params["text"]
    recorded = _recorded(database, campaign_id)
    assert {status for status, _, _ in recorded.values()} == {"SENT"}
    assert all(provider_id.isdigit() for _, _, provider_id in recorded.values())


def test_a_number_that_did_not_subscribe_is_one_error_and_never_reaches_telegram(
        tg_settings, amqp_channel, database, publish, subscribers, campaign_id, bot):
    subscribed, stranger = rendered(campaign_id, bot, 2)
    subscribe_all(subscribers, bot, [subscribed])
    with FakeTelegram(tokens={bot.token}) as telegram, _running(tg_settings, telegram):
        publish([subscribed, stranger])
        events = {e["recipient_id"]: e for e in wait_for_events(amqp_channel, 2)}
        sent = telegram.sent

    assert (events[stranger.recipient_id]["status"], events[stranger.recipient_id]["error_code"]) == (
        "ERROR", NOT_SUBSCRIBED)
    assert events[subscribed.recipient_id]["status"] == "SENT"
    assert [c.params["chat_id"] for c in sent] == [chat_of(subscribed.to)]
    assert _recorded(database, campaign_id)[stranger.message_id][:2] == ("ERROR", NOT_SUBSCRIBED)
    assert amqp_channel.basic_get(DELIVERY_EVENTS, auto_ack=True)[0] is None


def test_a_person_who_blocked_the_bot_is_unsubscribed_and_skipped_later_and_a_gone_chat_is_one_error(
        tg_settings, amqp_channel, database, publish, subscribers, campaign_id, bot):
    blocked, gone, fine = messages = rendered(campaign_id, bot, 3)
    subscribe_all(subscribers, bot, messages)
    with FakeTelegram(tokens={bot.token}, blocked={chat_of(blocked.to)}, missing={chat_of(gone.to)}) as telegram, \
            _running(tg_settings, telegram):
        publish(messages)
        events = {e["recipient_id"]: e for e in wait_for_events(amqp_channel, 3)}
        calls = telegram.calls_of("sendMessage")
        # The next campaign to the same person: skipped without asking Telegram.
        (again,) = rendered(campaign_id + 1, bot, 1, to=blocked.to)
        publish([again])
        (skipped,) = wait_for_events(amqp_channel, 1)
        calls_after = telegram.calls_of("sendMessage")

    assert (events[blocked.recipient_id]["status"], events[blocked.recipient_id]["error_code"]) == (
        "UNSUBSCRIBED", "telegram_blocked")
    assert BLOCKED in events[blocked.recipient_id]["reason"]
    assert (events[gone.recipient_id]["status"], events[gone.recipient_id]["error_code"]) == (
        "ERROR", CHAT_NOT_FOUND)
    assert events[fine.recipient_id]["status"] == "SENT"
    assert sorted((c.params["chat_id"], c.answered) for c in calls) == sorted(
        [(chat_of(blocked.to), 403), (chat_of(gone.to), 400), (chat_of(fine.to), 200)])
    assert (skipped["status"], skipped["error_code"]) == ("UNSUBSCRIBED", "telegram_blocked")
    assert len(calls_after) == len(calls)
    assert len(_recorded(database, campaign_id)) == 3


def test_a_person_who_talks_to_the_bot_again_is_no_longer_blocked(
        tg_settings, amqp_channel, database, subscribers, campaign_id, bot):
    (message,) = rendered(campaign_id, bot, 1)
    subscribe_all(subscribers, bot, [message])
    user_id = chat_of(message.to)  # the fakes' private chats: chat id = user id
    assert subscribers.set_blocked(bot.bot_id, chat_id=user_id) == 1
    assert subscribers.reachable(bot.bot_id, [message.to]) == ({}, {message.to})

    assert subscribers.set_blocked(bot.bot_id, telegram_user_id=user_id, blocked=False) == 1
    assert subscribers.reachable(bot.bot_id, [message.to]) == ({message.to: user_id}, set())


def test_a_throttled_message_waits_telegrams_retry_after_and_is_sent_exactly_once(
        tg_settings, amqp_channel, database, publish, subscribers, campaign_id, bot):
    (message,) = rendered(campaign_id, bot, 1)
    subscribe_all(subscribers, bot, [message])
    with FakeTelegram(tokens={bot.token}, throttle_first=1, retry_after=1) as telegram, \
            _running(tg_settings, telegram):
        publish([message])
        (event,) = wait_for_events(amqp_channel, 1)
        calls = telegram.calls_of("sendMessage")

    assert event["status"] == "SENT"
    assert [(c.answered, c.params["chat_id"]) for c in calls] == [(429, chat_of(message.to)),
                                                                   (200, chat_of(message.to))]
    assert calls[1].received_at - calls[0].received_at >= 0.95  # retry_after honoured, not a retry at once
    assert list(_recorded(database, campaign_id).values())[0][0] == "SENT"
    assert amqp_channel.basic_get(DELIVERY_EVENTS, auto_ack=True)[0] is None


def test_telegram_failing_once_is_tried_again_and_sends_the_message_once(
        tg_settings, amqp_channel, database, publish, subscribers, campaign_id, bot):
    (message,) = rendered(campaign_id, bot, 1)
    subscribe_all(subscribers, bot, [message])
    with FakeTelegram(tokens={bot.token}, unavailable_first=1) as telegram, _running(tg_settings, telegram):
        publish([message])
        (event,) = wait_for_events(amqp_channel, 1)
        calls = telegram.calls_of("sendMessage")

    assert event["status"] == "SENT"
    assert [c.answered for c in calls] == [502, 200]
    assert len(telegram.sent) == 1


def test_telegram_failing_on_every_try_records_telegram_unavailable_after_three_tries(
        tg_settings, amqp_channel, database, publish, subscribers, campaign_id, bot):
    (message,) = rendered(campaign_id, bot, 1)
    subscribe_all(subscribers, bot, [message])
    with FakeTelegram(tokens={bot.token}, unavailable_first=3) as telegram, _running(tg_settings, telegram):
        publish([message])
        (event,) = wait_for_events(amqp_channel, 1)
        calls = telegram.calls_of("sendMessage")

    assert (event["status"], event["error_code"]) == ("ERROR", "telegram_unavailable")
    assert "3 tries" in event["reason"]
    assert [c.answered for c in calls] == [502, 502, 502]


def test_a_redelivered_message_already_recorded_is_announced_again_but_not_sent_again(
        tg_settings, amqp_channel, database, publish, subscribers, campaign_id, bot):
    (message,) = rendered(campaign_id, bot, 1)
    subscribe_all(subscribers, bot, [message])
    with FakeTelegram(tokens={bot.token}) as telegram, _running(tg_settings, telegram):
        publish([message])
        (first,) = wait_for_events(amqp_channel, 1)
        publish([message])
        (again,) = wait_for_events(amqp_channel, 1)
        sent = telegram.sent

    assert first == again
    assert len(sent) == 1


def test_a_message_naming_a_missing_or_another_users_or_an_sms_credential_is_an_error_and_never_reaches_telegram(
        tg_settings, amqp_channel, database, publish, subscribers, campaign_id, bot):
    others = store_bot(database, tg_settings, bot.user_id + 1, bot.token)
    sms = store_bot(database, tg_settings, bot.user_id, bot.token, channel="SMS")
    missing, not_theirs, not_a_bot = messages = rendered(campaign_id, bot, 3)
    subscribe_all(subscribers, bot, messages)
    missing = replace(missing, credential_id=2**62)
    not_theirs = replace(not_theirs, credential_id=others)
    not_a_bot = replace(not_a_bot, credential_id=sms)
    with FakeTelegram(tokens={bot.token}) as telegram, _running(tg_settings, telegram):
        publish([missing, not_theirs, not_a_bot])
        events = {e["recipient_id"]: e for e in wait_for_events(amqp_channel, 3)}
        calls = list(telegram.calls)

    assert events[missing.recipient_id]["error_code"] == "credential_not_found"
    assert events[not_theirs.recipient_id]["error_code"] == "invalid_credential"
    assert events[not_a_bot.recipient_id]["error_code"] == "invalid_credential"
    assert {e["status"] for e in events.values()} == {"ERROR"}
    assert calls == []

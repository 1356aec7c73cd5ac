"""End to end for Telegram: every service as its own process, the public API, and a local Telegram fake that
delivers updates to the bot's webhook at the gateway and receives the bot's messages.

An engineer registers the agency's bot (checked with getMe, webhook set with a secret token), people subscribe by
sending /start and sharing their contact, a test message is verified, and a campaign to their numbers, plus one
number that never subscribed, goes out: each subscriber gets exactly their own message in their chat, the stranger
is an error "recipient has not subscribed to the bot" in stats and export.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest

from postman_auth import api_keys
from postman_shared.credentials import new_master_key
from tests.fakes.telegram import FakeTelegram
from tests.integration.sender_telegram.conftest import contact, message_update, new_bot_token
from tests.support.api_client import ApiError, PostmanApi
from tests.support.processes import RunningSystem, assert_stopped_cleanly, start_system, stop_system

pytestmark = pytest.mark.e2e

SUBSCRIBERS = 40
STRANGER = "+6581239999"
TOKEN = new_bot_token()


def number(i: int) -> str:
    return f"+659123{i:04d}"


def chat(i: int) -> int:
    return 7_000_000 + i


# The module's tests share one system and one Telegram fake (starting every service takes seconds): each uses an
# owner, campaigns and people (numbers, chats, update ids) of its own, and counts only the calls the bot made while
# it ran, or those to its own people.
@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(tokens={TOKEN}) as fake:
        yield fake


@pytest.fixture(scope="module")
def system(stores, tmp_path_factory: pytest.TempPathFactory, telegram: FakeTelegram) -> Iterator[RunningSystem]:
    running = start_system(stores, tmp_path_factory.mktemp("telegram-campaign"), TELEGRAM_API_BASE=telegram.base_url,
                           CREDENTIALS_KEY=new_master_key())
    yield running
    codes = stop_system(running)
    assert_stopped_cleanly(running, codes)


def wait_until(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return result


def test_subscribers_receive_their_own_telegram_message_and_a_stranger_is_reported(system, telegram, database):
    earlier_webhooks, earlier = len(telegram.calls_of("setWebhook")), len(telegram.sent)  # the module's other tests'
    with database.unit_of_work() as session:
        key = api_keys.create_api_key(session, api_keys.get_or_create_user(session, "tg@agency.gov.sg"), "e2e")
    api = PostmanApi(system.gateway_url, key)
    campaign_id = api.create_campaign("Telegram reminders", channel="TELEGRAM")
    base = f"/v1/campaign/{campaign_id}/telegram"
    template = api.call("PUT", f"{base}/template", json={"body": "<p><b>Dear {{ name }}</b>, see you at 9am.</p>"})
    assert template["template"] == {"body": "<b>Dear {{ name }}</b>, see you at 9am.", "params": ["name"]}

    with pytest.raises(ApiError, match="invalid_credentials"):
        api.call("POST", f"{base}/new-credentials", json={"telegram_bot_token": "123:not-a-real-token"})
    api.call("POST", f"{base}/new-credentials", json={"telegram_bot_token": TOKEN, "label": "agency-bot"})
    [webhook] = telegram.calls_of("setWebhook")[earlier_webhooks:]
    assert webhook.params["url"].startswith(system.env["PUBLIC_URL"] + "/telegram/webhook/")

    for i in range(SUBSCRIBERS):  # each person: /start, then shares their own contact
        assert telegram.deliver_update(TOKEN, message_update(2 * i + 1, chat(i), "/start")) == 200
        local = number(i).removeprefix("+")
        assert telegram.deliver_update(TOKEN, message_update(2 * i + 2, chat(i),
                                                             contact=contact(local, chat(i)))) == 200
    wait_until(lambda: len([c for c in telegram.sent[earlier:] if "+659123" in c.params.get("text", "")])
               == SUBSCRIBERS, "every subscription to be confirmed")

    api.call("POST", f"{base}/credentials/verify", json={"recipient": number(0)})
    with pytest.raises(ApiError, match="recipient has not subscribed to the bot"):
        api.call("POST", f"{base}/credentials/verify", json={"recipient": STRANGER})

    rows = ["recipient,name"] + [f"{number(i)},Person {i}" for i in range(SUBSCRIBERS)] + [f"{STRANGER},Stranger"]
    api.upload(campaign_id, ("\n".join(rows) + "\n").encode(), "subscribers.csv", channel="telegram")
    assert not api.wait_for_upload(campaign_id, channel="telegram").get("csv_error")
    assert api.call("GET", f"{base}/preview") == {"preview": {"body": "<b>Dear Person 0</b>, see you at 9am."}}
    details = api.call("GET", base)
    assert details["campaign"]["has_credential"] is True and details["num_recipients"] == SUBSCRIBERS + 1

    before = len(telegram.sent)
    api.send(campaign_id, channel="telegram", rate=30)
    stats = api.wait_for_status(campaign_id, channel="telegram", timeout=120)

    assert (stats["sent"], stats["error"], stats["unsent"]) == (SUBSCRIBERS, 1, 0)
    campaign_messages = [c.params for c in telegram.sent[before:]]
    assert Counter(m["chat_id"] for m in campaign_messages) == Counter({chat(i): 1 for i in range(SUBSCRIBERS)})
    assert all(m["text"] == f"<b>Dear Person {m['chat_id'] - 7_000_000}</b>, see you at 9am."
               and m["parse_mode"] == "HTML" for m in campaign_messages)
    export = {row["recipient"]: row for row in api.export(campaign_id, channel="telegram")}
    assert export[STRANGER]["status"] == "ERROR"
    assert export[STRANGER]["error_code"] == "recipient has not subscribed to the bot"
    assert export[number(3)]["status"] == "SENT"
    logs = "".join(system.logs(service, tail=100_000) for service in system.processes)
    assert TOKEN.split(":")[1] not in logs, "a service logged the bot token"


def test_a_subscriber_who_blocked_the_bot_is_unsubscribed_and_skipped_until_they_write_to_it_again(
        system, telegram, database):
    with database.unit_of_work() as session:
        key = api_keys.create_api_key(session, api_keys.get_or_create_user(session, "tg-blocked@agency.gov.sg"), "e2e")
    api = PostmanApi(system.gateway_url, key)
    people = 6
    rows = ["recipient,name"] + [f"{number(100 + i)},Person {i}" for i in range(people)]

    def campaign(name: str) -> tuple[int, str]:
        campaign_id = api.create_campaign(name, channel="TELEGRAM")
        base = f"/v1/campaign/{campaign_id}/telegram"
        api.call("PUT", f"{base}/template", json={"body": "<b>Dear {{ name }}</b>"})
        api.call("POST", f"{base}/new-credentials", json={"telegram_bot_token": TOKEN})
        api.upload(campaign_id, ("\n".join(rows) + "\n").encode(), "people.csv", channel="telegram")
        assert not api.wait_for_upload(campaign_id, channel="telegram").get("csv_error")
        return campaign_id, base

    first, _ = campaign("Before")
    for i in range(people):
        person, local = chat(100 + i), number(100 + i).removeprefix("+")
        telegram.deliver_update(TOKEN, message_update(900 + i, person, "/start"))
        telegram.deliver_update(TOKEN, message_update(950 + i, person, contact=contact(local, person)))
    own_chats = {chat(100 + i) for i in range(people)}
    wait_until(lambda: len([c for c in telegram.sent if "Thank you" in c.params.get("text", "")
                            and c.params.get("chat_id") in own_chats]) >= people,
               "every subscription confirmed")
    telegram.blocked.add(str(chat(101)))  # this one blocked the bot: Telegram answers 403 to a message
    kicked = message_update(990, chat(102), "/start")  # this one blocked it too, and Telegram said so first
    member = {"chat": kicked["message"]["chat"], "from": kicked["message"]["from"], "date": 1767225600,
              "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True, "first_name": "bot"}},
              "new_chat_member": {"status": "kicked", "user": {"id": 1, "is_bot": True, "first_name": "bot"}}}
    assert telegram.deliver_update(TOKEN, {"update_id": 991, "my_chat_member": member}) == 200
    time.sleep(1)

    api.send(first, channel="telegram", rate=30)
    stats = api.wait_for_status(first, channel="telegram", timeout=60)
    export = {row["recipient"]: row for row in api.export(first, channel="telegram")}
    assert (stats["sent"], stats["unsubscribed"], stats["unsent"]) == (people - 2, 2, 0)
    assert (export[number(101)]["status"], export[number(101)]["error_code"]) == ("UNSUBSCRIBED", "telegram_blocked")
    assert export[number(102)]["status"] == "UNSUBSCRIBED"
    attempts = Counter(c.params["chat_id"] for c in telegram.calls_of("sendMessage") if c.params.get("text") ==
                       "<b>Dear Person 1</b>")
    assert attempts[chat(101)] == 1 and not [c for c in telegram.calls_of("sendMessage")
                                             if c.params["chat_id"] == chat(102) and "Dear" in c.params["text"]]

    telegram.blocked.discard(str(chat(101)))
    telegram.deliver_update(TOKEN, message_update(995, chat(101), "/help"))  # they write to the bot again
    time.sleep(1)
    second, _ = campaign("After")
    api.send(second, channel="telegram", rate=30)
    stats = api.wait_for_status(second, channel="telegram", timeout=60)
    assert (stats["sent"], stats["unsubscribed"]) == (people - 1, 1)  # 101 is back; 102 still blocked the bot

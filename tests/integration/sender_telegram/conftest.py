"""Fixtures for the sender-telegram tests: a bot token sealed into campaign's table as AddBot stores it, people
subscribed to the bot, Telegram updates as the Bot API writes them, and a publisher of rendered messages."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from postman_campaign.models import Credential
from postman_sender_telegram.provider_credentials import plaintext_of
from postman_sender_telegram.subscribers import SubscriberStore
from postman_shared.broker import OutgoingMessage, Publisher
from postman_shared.broker.topology import TELEGRAM_SEND
from postman_shared.credentials import credential_aad, new_master_key, sealer_from_settings
from postman_shared.messages import RenderedTelegram
from postman_shared.settings import Settings
from tests.support.stores import free_port


@dataclass(frozen=True)
class StoredBot:
    id: int  # the credential id
    user_id: int
    token: str

    @property
    def bot_id(self) -> int:
        return int(self.token.split(":", 1)[0])


def new_bot_token() -> str:
    """A token of the form BotFather gives: a fresh bot id, ':', 35 url-safe characters."""
    return f"{secrets.randbelow(10**10) + 10**9}:{secrets.token_urlsafe(26)[:35]}"


@pytest.fixture
def campaign_id() -> int:
    """A campaign id (and the base of recipient ids) no other test of the run uses: the stores are shared."""
    return secrets.randbelow(10**9) + 1


@pytest.fixture
def tg_settings(settings: Settings) -> Settings:
    """The test settings with a master key for stored credentials and a free port for sender-telegram."""
    return replace(settings, credentials_key=new_master_key(), telegram_sender_addr=f"127.0.0.1:{free_port()}",
                   callback_signing_key=secrets.token_hex(32))


def store_bot(database, tg_settings: Settings, user_id: int, token: str, channel: str = "TELEGRAM") -> int:
    sealer = sealer_from_settings(tg_settings)
    with database.unit_of_work() as session:
        row = Credential(user_id=user_id, channel=channel, label=f"test {secrets.token_hex(4)}",
                         sealed=sealer.seal(plaintext_of(token), credential_aad(user_id, channel)),
                         key_id=sealer.key_id, description="@test_bot")
        session.add(row)
        session.flush()
        return row.id


@pytest.fixture
def bot(database, tg_settings: Settings) -> StoredBot:
    """A bot credential of a fresh user, sealed and stored as campaign stores it."""
    user_id = secrets.randbelow(10**9) + 1
    token = new_bot_token()
    return StoredBot(store_bot(database, tg_settings, user_id, token), user_id, token)


@pytest.fixture
def subscribers(database) -> SubscriberStore:
    return SubscriberStore(database)


@pytest.fixture
def publish(stores) -> Iterator[Callable[[list[RenderedTelegram]], None]]:
    publisher = Publisher(stores.amqp_url, app_id="test")

    def _publish(messages: list[RenderedTelegram]) -> None:
        publisher.publish([OutgoingMessage(TELEGRAM_SEND, m.to_dict(), m.message_id) for m in messages])

    yield _publish
    publisher.close()


def rendered(campaign_id: int, bot: StoredBot, count: int, **overrides: object) -> list[RenderedTelegram]:
    messages = []
    for n in range(count):
        fields: dict[str, object] = dict(
            recipient_id=campaign_id * 1000 + n, campaign_id=campaign_id, job_id=campaign_id, user_id=bot.user_id,
            to=f"+659123{n:04d}", body=f"<b>Dear person {n}</b>, your code is <code>{n}</code>. 你好",
            credential_id=bot.id,
        )
        fields.update(overrides)
        messages.append(RenderedTelegram(**fields))  # type: ignore[arg-type]
    return messages


def chat_of(number: str) -> int:
    """The chat id the tests give the person with this number (private chat id = Telegram user id)."""
    return int(number.lstrip("+")) + 7_000_000_000_000


def subscribe_all(subscribers: SubscriberStore, bot: StoredBot, messages: list[RenderedTelegram]) -> None:
    for message in messages:
        subscribers.subscribe(bot.bot_id, chat_of(message.to), chat_of(message.to), message.to)


def message_update(update_id: int, user_id: int, text: str | None = None,
                   contact: dict[str, Any] | None = None, chat_type: str = "private") -> dict[str, Any]:
    """An Update carrying a Message as the Bot API writes it (a private chat's id is the user's id)."""
    message: dict[str, Any] = {
        "message_id": update_id % 100000, "date": 1767225600,
        "from": {"id": user_id, "is_bot": False, "first_name": "Tan", "language_code": "en"},
        "chat": {"id": user_id, "first_name": "Tan", "type": chat_type},
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    if contact is not None:
        message["contact"] = contact
    return {"update_id": update_id, "message": message}


def contact(phone_number: str, user_id: int | None) -> dict[str, Any]:
    shared: dict[str, Any] = {"phone_number": phone_number, "first_name": "Tan"}
    if user_id is not None:
        shared["user_id"] = user_id
    return shared

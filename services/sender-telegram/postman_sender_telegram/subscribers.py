"""Who subscribed to which bot with which phone number (``telegram_subscribers``).

A person subscribes by sharing their own contact with the bot; the number is stored in E.164 against the bot's id.
Each Telegram user has one number per bot: sharing again replaces the earlier number (after a change of SIM), and
a number shared by a second Telegram account moves to that account (the number was given to someone else). Both
are upserts, so handling the same update twice leaves the same row.

A person who blocks the bot (Telegram answers 403 to a message, or reports them "kicked" in a ``my_chat_member``
update) is marked blocked for that bot: later campaigns skip them as UNSUBSCRIBED without calling Telegram. Writing
to the bot again (or unblocking it) clears the mark.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from postman_sender_telegram.models import TelegramSubscriber
from postman_shared.db import Database


class SubscriberStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    def subscribe(self, bot_id: int, telegram_user_id: int, chat_id: int, phone_number: str) -> str | None:
        """Stores ``phone_number`` (E.164) as the Telegram user's number for the bot, in one transaction; returns
        the number it replaces, if any."""
        with self._database.unit_of_work() as session:
            replaced = session.execute(
                delete(TelegramSubscriber)
                .where(TelegramSubscriber.bot_id == bot_id, TelegramSubscriber.telegram_user_id == telegram_user_id,
                       TelegramSubscriber.phone_number != phone_number)
                .returning(TelegramSubscriber.phone_number)
            ).scalars().first()
            upsert = insert(TelegramSubscriber).values(bot_id=bot_id, phone_number=phone_number, chat_id=chat_id,
                                                       telegram_user_id=telegram_user_id)
            session.execute(upsert.on_conflict_do_update(
                index_elements=["bot_id", "phone_number"],
                set_={"chat_id": upsert.excluded.chat_id, "telegram_user_id": upsert.excluded.telegram_user_id,
                      "updated_at": func.now(), "blocked_at": None},
            ))
        return replaced

    def set_blocked(self, bot_id: int, *, chat_id: int | None = None, telegram_user_id: int | None = None,
                    blocked: bool = True) -> int:
        """Marks (or clears) the subscriber of that chat or Telegram user as having blocked the bot; returns how
        many rows changed."""
        condition = (TelegramSubscriber.chat_id == chat_id) if chat_id is not None else (
            TelegramSubscriber.telegram_user_id == telegram_user_id)
        with self._database.unit_of_work() as session:
            result = session.execute(
                update(TelegramSubscriber).where(TelegramSubscriber.bot_id == bot_id, condition,
                                                 TelegramSubscriber.blocked_at.is_(None) if blocked
                                                 else TelegramSubscriber.blocked_at.is_not(None))
                .values(blocked_at=func.now() if blocked else None, updated_at=func.now()))
            return int(getattr(result, "rowcount", 0))

    def reachable(self, bot_id: int, phone_numbers: Iterable[str]) -> tuple[dict[str, int], set[str]]:
        """(the chat of each of these numbers that subscribed to the bot and did not block it, the numbers whose
        subscriber blocked it): one query."""
        numbers = sorted(set(phone_numbers))
        if not numbers:
            return {}, set()
        with self._database.session() as session:
            rows = session.execute(
                select(TelegramSubscriber.phone_number, TelegramSubscriber.chat_id, TelegramSubscriber.blocked_at)
                .where(TelegramSubscriber.bot_id == bot_id, TelegramSubscriber.phone_number.in_(numbers)))
            chats, blocked = {}, set()
            for number, chat_id, blocked_at in rows:
                if blocked_at is None:
                    chats[number] = chat_id
                else:
                    blocked.add(number)
            return chats, blocked

    def chats(self, bot_id: int, phone_numbers: Iterable[str]) -> dict[str, int]:
        """The chat of each of these numbers that subscribed to the bot (one query)."""
        numbers = sorted(set(phone_numbers))
        if not numbers:
            return {}
        with self._database.session() as session:
            rows = session.execute(
                select(TelegramSubscriber.phone_number, TelegramSubscriber.chat_id)
                .where(TelegramSubscriber.bot_id == bot_id, TelegramSubscriber.phone_number.in_(numbers))
            )
            return {row.phone_number: row.chat_id for row in rows}

    def chat(self, bot_id: int, phone_number: str) -> int | None:
        return self.chats(bot_id, [phone_number]).get(phone_number)

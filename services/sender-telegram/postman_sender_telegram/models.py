"""Tables owned by the sender-telegram service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from postman_shared.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class TelegramSubscriber(Base):
    """A person who shared their phone number with a bot: messages to that number go to this chat.

    Keyed by the bot (the numeric id before ':' in its token), not by the stored credential: the same bot registered
    twice, or by two users, reaches the same subscribers. One number per Telegram user and bot: sharing a new number
    replaces the old one."""

    __tablename__ = "telegram_subscribers"
    __table_args__ = (
        UniqueConstraint("bot_id", "telegram_user_id", name="uq_telegram_subscribers_bot_id_telegram_user_id"),
    )

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    phone_number: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164
    chat_id: Mapped[int] = mapped_column(BigInteger)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The person blocked the bot (Telegram answered 403, or a my_chat_member update said "kicked"): their messages
    # are skipped as UNSUBSCRIBED until they talk to the bot again.
    blocked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TelegramDelivery(Base):
    """The outcome of handing one message to the Bot API; a redelivered message found here is not sent again."""

    __tablename__ = "telegram_deliveries"
    __table_args__ = (
        # A retry's message is not sent to a recipient whose earlier message was sent (delivery_log).
        Index("ix_telegram_deliveries_recipient_id", "recipient_id",
              postgresql_where=text("recipient_id IS NOT NULL")),
    )

    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # SENT | ERROR
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_reason: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(64))  # Telegram's message_id in the chat
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    recipient_id: Mapped[int | None] = mapped_column(BigInteger)

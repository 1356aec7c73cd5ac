"""Tables owned by the sender-sms service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, Text, func, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from postman_shared.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class SmsDelivery(Base):
    """The outcome of handing one SMS to Twilio; a redelivered message found here is not sent again."""

    __tablename__ = "sms_deliveries"
    # A receipt names its message by Twilio's SID; a retried message's id is "<recipient_id>.<job_id>".
    __table_args__ = (
        Index("ix_sms_deliveries_provider_message_id", "provider_message_id"),
        # A retry's message is not sent to a recipient whose earlier message was sent (delivery_log).
        Index("ix_sms_deliveries_recipient_id", "recipient_id", postgresql_where=text("recipient_id IS NOT NULL")),
    )

    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # SENT | ERROR
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_reason: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(64))  # Twilio's message SID ("SM" + 32 hex)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    recipient_id: Mapped[int | None] = mapped_column(BigInteger)


class TransactionalSms(Base):
    """One transactional SMS (``POST /v1/transactional/sms/send``): sent at once, then moved by Twilio's receipts."""

    __tablename__ = "transactional_sms"
    __table_args__ = (Index("ix_transactional_sms_user_id_created_at", "user_id", "created_at"),
                      Index("ix_transactional_sms_created_at", "created_at"))  # the retention purge

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    credential_id: Mapped[int | None] = mapped_column(BigInteger)
    credentials_label: Mapped[str] = mapped_column(String(100))
    recipient: Mapped[str] = mapped_column(String(32))  # E.164
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # UNSENT ACCEPTED SENT DELIVERED ERROR
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_reason: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    errored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

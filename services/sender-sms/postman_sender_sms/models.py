"""Tables owned by the sender-sms service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from postman_shared.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class SmsDelivery(Base):
    """The outcome of handing one SMS to Twilio; a redelivered message found here is not sent again."""

    __tablename__ = "sms_deliveries"

    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # SENT | ERROR
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_reason: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(64))  # Twilio's message SID ("SM" + 32 hex)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

"""Tables owned by the stats service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from postman_shared.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class MessageOutcome(Base):
    """One message's recorded outcome; the primary key makes recording idempotent.

    ``receipt`` is the provider's final word on a sent message (an SMS delivery receipt), applied at most once:
    DELIVERED leaves the message SENT; ERROR turns it into an ERROR. A receipt may come before the sender's own
    event; the outcome is then recorded from the receipt (``job_id`` 0: not known yet) and the sender's event
    finds it recorded."""

    __tablename__ = "message_outcomes"
    __table_args__ = (Index("ix_message_outcomes_campaign_id", "campaign_id"),)

    recipient_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    job_id: Mapped[int] = mapped_column(BigInteger)  # 0 when recorded from a receipt that came first
    status: Mapped[str] = mapped_column(String(16))  # SENT | ERROR
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    receipt: Mapped[str | None] = mapped_column(String(16))  # DELIVERED | ERROR; NULL: no receipt (yet)
    receipt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CampaignCounter(Base):
    """Exact counters per campaign, moved in the same transaction that records outcomes."""

    __tablename__ = "campaign_counters"

    campaign_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    sent: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    error: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    expected: Mapped[int | None] = mapped_column(BigInteger)  # set when the renderer reports the job rendered
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    logged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

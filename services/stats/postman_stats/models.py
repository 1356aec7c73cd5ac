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

    ``status`` is the message's current status (``postman_shared.outcomes.MessageStatus``): the sender's (SENT,
    ERROR, BLACKLISTED, UNSUBSCRIBED), then moved forward by the provider's receipts (DELIVERED, OPENED, bounces,
    complaints, ERROR), never back. ``receipt`` is the last receipt that moved it. A receipt may come before the
    sender's own event; the outcome is then recorded from the receipt (``job_id`` 0: not known yet) and the
    sender's event finds it recorded."""

    __tablename__ = "message_outcomes"
    __table_args__ = (Index("ix_message_outcomes_campaign_id", "campaign_id"),)

    recipient_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    job_id: Mapped[int] = mapped_column(BigInteger)  # 0 when recorded from a receipt that came first
    status: Mapped[str] = mapped_column(String(16))  # a MessageStatus
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    receipt: Mapped[str | None] = mapped_column(String(16))  # the last receipt applied; NULL: none (yet)
    error_sub_type: Mapped[str | None] = mapped_column(String(64))  # a bounce's sub-type, a complaint's type
    receipt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CampaignCounter(Base):
    """Exact counters per campaign, moved in the same transaction that records outcomes.

    ``sent``, ``error``, ``invalid_recipients`` and ``unsubscribed`` are the statistics' counters (each outcome is
    in exactly one); ``delivered`` ... ``blacklisted`` count the messages whose current status is that one (so
    ``sent`` includes ``delivered`` and ``opened``; ``invalid_recipients`` is the bounces, complaints and
    blacklisted). ``halt_base_*`` are the counts when the current job started (a retry): the halting thresholds
    look at what happened since."""

    __tablename__ = "campaign_counters"

    campaign_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    sent: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    error: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    invalid_recipients: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    unsubscribed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    delivered: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    opened: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    hard_bounced: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    soft_bounced: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    complained: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    blacklisted: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    halt_base_outcomes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    halt_base_hard_bounced: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    halt_base_complained: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    halted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # campaign accepted the halt
    expected: Mapped[int | None] = mapped_column(BigInteger)  # set when the renderer reports the job rendered
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    logged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

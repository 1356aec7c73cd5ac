"""Tables owned by the sender-email service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from postman_shared.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class EmailDelivery(Base):
    """The outcome of handing one message to the transport; a redelivered message found here is not sent again."""

    __tablename__ = "email_deliveries"
    __table_args__ = (
        # SES's events name the message by the MessageId SendEmail returned.
        Index("ix_email_deliveries_provider_message_id", "provider_message_id"),
        # A retry's message is not sent to a recipient whose earlier message was sent (delivery_log).
        Index("ix_email_deliveries_recipient_id", "recipient_id", postgresql_where=text("recipient_id IS NOT NULL")),
        # The retention purge of what was sent outside campaigns (transactional, priority), oldest first.
        Index("ix_email_deliveries_created_at_no_campaign", "created_at", postgresql_where=text("campaign_id IS NULL")),
    )

    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger)  # None for priority (non-campaign) email
    status: Mapped[str] = mapped_column(String(16))  # SENT | ERROR
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_reason: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    recipient_id: Mapped[int | None] = mapped_column(BigInteger)  # a campaign message's recipient; None: priority


class TransactionalEmail(Base):
    """One transactional email (``POST /v1/transactional/email/send``): sent at once, then moved by SES's events.

    ``attachments_metadata`` is ``[{fileName, fileSize, hash}]`` (the API's own keys; ``hash`` is the sha256 of the
    file in hex) or NULL when the email had no attachments; the files themselves are not kept.
    """

    __tablename__ = "transactional_emails"
    __table_args__ = (
        Index("ix_transactional_emails_user_id_created_at", "user_id", "created_at"),
        Index("ix_transactional_emails_created_at", "created_at"),  # the retention purge, oldest first
        # SES events name the message by the MessageId SendEmail returned.
        Index("ix_transactional_emails_provider_message_id", "provider_message_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    from_address: Mapped[str] = mapped_column("from", Text)
    recipient: Mapped[str] = mapped_column(String(320))
    cc: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    bcc: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    reply_to: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    tag: Mapped[str | None] = mapped_column(String(255))
    classification: Mapped[str | None] = mapped_column(String(16))  # URGENT FOR_ACTION FOR_INFO
    disable_tracking: Mapped[bool] = mapped_column(Boolean, server_default="false")
    attachments_metadata: Mapped[list[dict[str, object]] | None] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16))  # UNSENT ACCEPTED SENT BOUNCED DELIVERED OPENED COMPLAINT
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_sub_type: Mapped[str | None] = mapped_column(String(64))
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SnsMessageSeen(Base):
    """The id of an SNS message whose SES event was applied: a copy posted again (a replay of a captured message,
    or SNS delivering twice) is dropped. Kept a little longer than the gateway accepts a message (an hour after SNS
    signed it), then deleted (``sns_replays``)."""

    __tablename__ = "sns_messages_seen"
    __table_args__ = (Index("ix_sns_messages_seen_seen_at", "seen_at"),)

    message_id: Mapped[str] = mapped_column(String(100), primary_key=True)  # SNS's MessageId (a UUID)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

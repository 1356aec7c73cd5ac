"""Tables owned by the campaign service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from postman_shared.db import new_metadata
from postman_shared.outbox import outbox_table


class Base(DeclarativeBase):
    metadata = new_metadata()


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)  # the owner (auth's users.id)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))  # EMAIL | SMS | TELEGRAM
    protect: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    halted: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Why and when its bounces or complaints halted it (kept after the owner resumes it: halted is then false).
    halt_reason: Mapped[str | None] = mapped_column(Text)
    halted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    redacted: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # When the purge removed its recipients and per-message outcomes (CAMPAIGN_RETENTION_DAYS after it finished).
    redacted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The committed recipient list (replaced whole by each successful upload).
    csv_filename: Mapped[str | None] = mapped_column(String(255))
    recipient_keys: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    num_recipients: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    num_invalid: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Created with a test API key: every send of it is simulated (no provider is called).
    test: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # The provider credential an SMS or Telegram campaign sends with.
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("credentials.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EmailTemplate(Base):
    __tablename__ = "email_templates"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)  # sanitised HTML
    reply_to: Mapped[str | None] = mapped_column(String(320))
    from_address: Mapped[str] = mapped_column(String(400))
    params: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)  # lower-cased keys
    # Postman's show_logo: the agency's logo in the email's theme (issue 12).
    show_logo: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SmsTemplate(Base):
    __tablename__ = "sms_templates"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    body: Mapped[str] = mapped_column(Text)  # plain text, <br> for line breaks
    params: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)  # lower-cased keys
    segments: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # of the template as written
    encoding: Mapped[str] = mapped_column(String(8), default="", server_default="")  # GSM-7 | UCS-2
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TelegramTemplate(Base):
    __tablename__ = "telegram_templates"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    body: Mapped[str] = mapped_column(Text)  # Telegram HTML (its allowed tags only)
    params: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)  # lower-cased keys
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SavedTemplate(Base):
    """An officer's message saved under a name for reuse (issue 18): the fields of its channel's campaign template,
    checked and sanitised by the same rules when saved. A new campaign can start from it (a copy: editing one never
    changes the other). The name is unique per owner and channel."""

    __tablename__ = "saved_templates"
    __table_args__ = (
        UniqueConstraint("user_id", "channel", "name", name="uq_saved_templates_user_id_channel_name"),
        CheckConstraint("channel IN ('EMAIL', 'SMS', 'TELEGRAM')", name="channel"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)  # the owner (auth's users.id)
    channel: Mapped[str] = mapped_column(String(16))  # EMAIL | SMS | TELEGRAM
    name: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(Text)  # email only
    body: Mapped[str] = mapped_column(Text)  # as the channel's template stores it (sanitised)
    reply_to: Mapped[str | None] = mapped_column(String(320))  # email only
    from_address: Mapped[str | None] = mapped_column(String(400))  # email only: the From header as it is sent
    show_logo: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")  # email only
    params: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")  # lower-cased keys
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Upload(Base):
    """One recipient file upload: started, then processing, then done or failed (``statuses.UploadStatus``)."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    transaction_id: Mapped[str] = mapped_column(String(64), unique=True)
    object_key: Mapped[str] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(100))
    md5: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # a statuses.UploadStatus
    error: Mapped[str | None] = mapped_column(Text)
    rows_processed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # A protected campaign's multipart upload (protect/upload/start): the object store's upload id and part count.
    multipart_id: Mapped[str | None] = mapped_column(String(1024))
    part_count: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProtectedMessage(Base):
    """One recipient's encrypted message of a password-protected campaign: only ciphertext and a check value.

    After the retention period the payload and the check value are erased (``expired_at`` set); the row stays so
    that the link can say the message has expired."""

    __tablename__ = "protected_messages"

    id: Mapped[Any] = mapped_column(UUID(as_uuid=False), primary_key=True)  # the link's id
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(SmallInteger)  # 1: Postman's format; 2: this platform's
    payload: Mapped[str | None] = mapped_column(Text)  # b64(ciphertext).b64(iv)
    check_value: Mapped[str | None] = mapped_column(String(64))  # v1 passwordhash / v2 accesshash
    salt: Mapped[str | None] = mapped_column(String(64))  # v2: base64; v1: the id is the salt
    iterations: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    expired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProtectedMessageAttempt(Base):
    """Wrong passwords per message id, whether or not the id exists: a fixed window opened by the first wrong try;
    at the limit the id is locked until the window ends. A row is locked while an attempt is checked, so parallel
    guesses are counted one after another."""

    __tablename__ = "protected_message_attempts"

    message_id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Recipient(Base):
    __tablename__ = "recipients"
    __table_args__ = (Index("ix_recipients_campaign_id_id", "campaign_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger)  # no FK: bulk COPY and bulk delete stay cheap
    line: Mapped[int] = mapped_column(Integer)  # line of the file the row started on
    recipient: Mapped[str] = mapped_column(Text)  # normalised (trimmed, lower-cased)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)  # lower-cased header -> value
    valid: Mapped[bool] = mapped_column(Boolean)


class Job(Base):
    """A send of a campaign (Postman's job_queue)."""

    __tablename__ = "jobs"
    __table_args__ = (
        # The scheduler's query: due READY jobs, oldest first; only scheduled jobs are in the index.
        Index("ix_jobs_scheduled_at_ready", "scheduled_at", postgresql_where=text("status = 'READY'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # a statuses.JobStatus (its moves: JOB_TRANSITIONS)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    send_rate: Mapped[int | None] = mapped_column(Integer)  # messages per second (SMS, TELEGRAM); None: default
    # Sent with a test API key or of a test campaign: the senders simulate every message, call no provider.
    simulated: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    status_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # A scheduled send: the job waits READY until then, and the scheduler releases it (scheduling.py).
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A retry: the job it retries; its messages are those without a SENT outcome, with ids "<recipient>.<job>".
    retry_of: Mapped[int | None] = mapped_column(BigInteger)


class Credential(Base):
    """A user's provider credential (Twilio secret, bot token), sealed by ``postman_shared.credentials.Sealer`` with
    ``credential_aad(user_id, channel)``. Opened only by the sender that uses it; never returned by any API."""

    __tablename__ = "credentials"
    __table_args__ = (
        # PostgreSQL treats NULLs as distinct, so a label is unique per user and channel only when set.
        UniqueConstraint("user_id", "channel", "label", name="uq_credentials_user_id_channel_label"),
        CheckConstraint("channel IN ('SMS', 'TELEGRAM')", name="channel"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)  # the owner (auth's users.id)
    channel: Mapped[str] = mapped_column(String(16))  # SMS | TELEGRAM
    label: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(255), default="", server_default="")  # not secret: "@bot"
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(255), index=True)  # the master key wrapping it (for rotation)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Suppression(Base):
    """Someone who must not receive messages: global (``user_id`` 0: an address that hard-bounced or complained,
    for every agency) or for one campaign owner (an unsubscribe, an SMS STOP, an officer's own entry). One entry per
    channel, recipient and scope; the first reason recorded stays until the entry is lifted."""

    __tablename__ = "suppressions"
    __table_args__ = (
        # Also the senders' screening query: channel, recipients of a batch, user_id in (0, owner).
        UniqueConstraint("channel", "recipient", "user_id", name="uq_suppressions_channel_recipient_user_id"),
        Index("ix_suppressions_user_id_created_at", "user_id", "created_at"),
        Index("ix_suppressions_source_campaign_id", "source_campaign_id"),
        CheckConstraint("channel IN ('EMAIL', 'SMS', 'TELEGRAM')", name="channel"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))  # normalised: lower-cased address, E.164 number
    user_id: Mapped[int] = mapped_column(BigInteger, server_default="0")  # 0: global
    reason: Mapped[str] = mapped_column(String(32))  # postman_shared.outcomes.SuppressionReason
    detail: Mapped[str] = mapped_column(Text, server_default="")
    source_campaign_id: Mapped[int | None] = mapped_column(BigInteger)
    source_message_id: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Unsubscribe(Base):
    """A recipient who unsubscribed through a campaign's link (or its one-click POST, upstream's API, the mailto).
    While it exists, the owner's suppression list holds the address (reason ``unsubscribe``)."""

    __tablename__ = "unsubscribes"
    __table_args__ = (
        UniqueConstraint("campaign_id", "recipient", name="uq_unsubscribes_campaign_id_recipient"),
        Index("ix_unsubscribes_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger)  # the campaign's owner
    recipient: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text, server_default="")
    via: Mapped[str] = mapped_column(String(16))  # page | one-click | api | mailto
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class UnsubscribeDigest(Base):
    """A week's digest of unsubscribes emailed to an owner: at most one per owner and week, whatever the replicas."""

    __tablename__ = "unsubscribe_digests"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, primary_key=True)  # the Monday (Singapore time) it begins
    unsubscribes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


outbox = outbox_table(Base.metadata, "campaign_outbox")

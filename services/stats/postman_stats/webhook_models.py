"""Tables of client webhooks (owned by stats): a user's webhook per kind, its delivery log, and stats' outbox (the
owner notice of a paused webhook, written with the pause)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from postman_shared.outbox import outbox_table
from postman_stats.models import Base


class ClientWebhook(Base):
    """One user's callback URL for one kind of event (transactional | campaign). The secret that signs deliveries
    is sealed with the master key (``credentials.Sealer``, ``client_webhooks.secret_aad``); it is shown once, when
    made. ``consecutive_failures`` and ``failing_since`` decide the pause; ``paused_at`` set: nothing is delivered
    until the user saves the webhook again."""

    __tablename__ = "client_webhooks"
    __table_args__ = (UniqueConstraint("user_id", "kind"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(2000))
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    secret_key_id: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pause_reason: Mapped[str | None] = mapped_column(Text)


class ClientWebhookAttempt(Base):
    """One delivery attempt of one event to one webhook; the last ``WEBHOOK_LOG_SIZE`` of each webhook are kept."""

    __tablename__ = "client_webhook_attempts"
    __table_args__ = (Index("ix_client_webhook_attempts_webhook_id", "webhook_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("client_webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    outcome: Mapped[str] = mapped_column(String(16))  # a statuses.WebhookAttemptOutcome
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


outbox = outbox_table(Base.metadata, "stats_outbox")

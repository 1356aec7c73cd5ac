"""Tables owned by the auth service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from postman_shared.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    rate_limit: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex of the whole key
    last_five: Mapped[str] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A test key ("test_v1_..."): everything it does goes through the whole pipeline, but no provider is called.
    test: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Up to 5 addresses (stored lower-cased) emailed with the owner before the key expires and when it is revoked.
    notification_contacts: Mapped[list[str]] = mapped_column(ARRAY(String(320)), default=list, server_default="{}")


class ApiKeyNotice(Base):
    """One email about a key to its owner and contacts: ``expiry-<N>`` (N days before it expires) or ``revoked``.
    Unique per key and kind, so a reminder is claimed once however many auth replicas look; ``sent_at`` is set in
    the transaction that published it (``emailed``: how many addresses; 0 when there was nobody left to tell)."""

    __tablename__ = "api_key_notices"
    __table_args__ = (UniqueConstraint("api_key_id", "kind"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    emailed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class OneTimePassword(Base):
    """A one-time password sent to an address. An address may hold a few live ones at once: a new request adds one
    and never replaces an earlier one, so nobody can void the password a person is about to type by asking for
    another (issue 13)."""

    __tablename__ = "one_time_passwords"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)  # lower-cased
    password_hash: Mapped[str] = mapped_column(String(200))  # never the password itself
    requested_ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OneTimePasswordFailure(Base):
    """Wrong one-time passwords typed for an address from one client IP address, in a window: the tries are
    counted per (address, client), so guessing from one place cannot use up the tries of the person signing in
    from another."""

    __tablename__ = "one_time_password_failures"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)  # lower-cased
    ip: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" when the gateway did not say
    wrong_tries: Mapped[int] = mapped_column(Integer)
    window_ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Session(Base):
    """A signed-in browser session; the cookie holds a random token, stored here only as its SHA-256."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """Who did what, when, from which IP address. Append-only."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)  # None when no user is known
    email: Mapped[str | None] = mapped_column(String(320))  # as given, e.g. for a failed sign-in
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "auth.login", "api_key.revoked"
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class Agency(Base):
    """A government agency: its name and logo shown on its officers' campaign emails (``postmanctl agency``)."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    logo_uri: Mapped[str | None] = mapped_column(String(2048))  # an https URL of the logo image
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AgencyDomain(Base):
    """An email domain that belongs to an agency: a user's agency follows from their address's domain."""

    __tablename__ = "agency_domains"

    domain: Mapped[str] = mapped_column(String(255), primary_key=True)  # lower-cased, e.g. moh.gov.sg
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)


class SenderAddress(Base):
    """An address a user may send campaign and transactional email from, once proven theirs (issue 12):
    PENDING (a confirmation link was mailed to it) or VERIFIED (the link was followed, or SES holds the identity
    verified with DKIM)."""

    __tablename__ = "sender_addresses"
    __table_args__ = (UniqueConstraint("user_id", "email"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))  # lower-cased
    status: Mapped[str] = mapped_column(String(16))  # a statuses.SenderAddressStatus
    method: Mapped[str] = mapped_column(String(16))  # a statuses.VerificationMethod
    token_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 hex of the confirmation link's token
    token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

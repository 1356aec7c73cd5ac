"""Users and API keys: keys are random, shown once, and stored only as a SHA-256 hash.

A key has Postman's shape ``name_version_secret``: ``live_v1_`` followed by 40 random letters and digits
(about 238 bits), so a plain SHA-256 is enough to store it safely; no salt or slow hash is needed for a secret
with that much entropy.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from postman_auth.models import ApiKey, User

KEY_PREFIX = "live_v1_"
_ALPHABET = string.ascii_letters + string.digits
_KEY_SHAPE = re.compile(r"^[A-Za-z0-9]+_v[0-9]+_[A-Za-z0-9]{20,200}$")
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LAST_USED_GRANULARITY = timedelta(seconds=60)


class InvalidEmail(ValueError):
    pass


@dataclass(frozen=True)
class AuthenticatedUser:
    user_id: int
    email: str
    api_key_id: int


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(40))


def normalise_email(email: str) -> str:
    cleaned = email.strip().lower()
    if not _EMAIL_SHAPE.match(cleaned):
        raise InvalidEmail(f"{email!r} is not an email address")
    return cleaned


def get_or_create_user(session: Session, email: str) -> User:
    address = normalise_email(email)
    user = session.scalars(select(User).where(User.email == address)).one_or_none()
    if user is None:
        user = User(email=address)
        session.add(user)
        session.flush()
    return user


def create_api_key(session: Session, user: User, label: str, valid_for: timedelta | None = None) -> str:
    """Stores a new key for the user and returns it in clear: the only time it is ever available."""
    key = generate_key()
    expires_at = datetime.now(timezone.utc) + valid_for if valid_for else None
    session.add(ApiKey(user_id=user.id, label=label, key_hash=hash_key(key), last_five=key[-5:],
                       expires_at=expires_at))
    session.flush()
    return key


def authenticate(session: Session, key: str, now: datetime | None = None) -> AuthenticatedUser | None:
    """The user a key belongs to, or None when it is malformed, unknown, revoked, expired or its user disabled."""
    if not _KEY_SHAPE.match(key):
        return None
    now = now or datetime.now(timezone.utc)
    row = session.execute(
        select(ApiKey, User).join(User, User.id == ApiKey.user_id).where(ApiKey.key_hash == hash_key(key))
    ).one_or_none()
    if row is None:
        return None
    api_key, user = row
    if api_key.revoked_at is not None or user.disabled_at is not None:
        return None
    if api_key.expires_at is not None and api_key.expires_at <= now:
        return None
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_GRANULARITY:
        # Written at most once a minute per key, so authentication is not a write on every request.
        session.execute(update(ApiKey).where(ApiKey.id == api_key.id).values(last_used_at=now))
    return AuthenticatedUser(user_id=user.id, email=user.email, api_key_id=api_key.id)

"""Browser sessions: a random token in the cookie, its SHA-256 in the database, revocable at any moment.

The token has 256 random bits, so a plain SHA-256 protects it at rest; the cookie carries nothing else (no user id,
no signature to forge), and every request looks the session up, so a logout or a disabled user takes effect at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from postman_auth.models import Session as SignInSession
from postman_auth.models import User

# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, user: User, ip: str, user_agent: str, valid_for: timedelta,
          now: datetime) -> tuple[str, SignInSession]:
    """A new session for the user; returns the token (for the cookie, never stored) and the row."""
    token = secrets.token_urlsafe(32)
    row = SignInSession(user_id=user.id, token_hash=hash_token(token), ip=ip[:64] or None,
                        user_agent=user_agent[:400] or None, created_at=now, expires_at=now + valid_for)
    session.add(row)
    session.flush()
    return token, row


def resolve(session: Session, token: str, now: datetime) -> tuple[SignInSession, User] | None:
    """The live session a token stands for and its user; None when malformed, unknown, expired, revoked or the
    user is disabled."""
    if not _TOKEN_SHAPE.match(token):
        return None
    found = session.execute(
        select(SignInSession, User).join(User, User.id == SignInSession.user_id)
        .where(SignInSession.token_hash == hash_token(token))
    ).one_or_none()
    if found is None:
        return None
    row, user = found
    if row.revoked_at is not None or row.expires_at <= now or user.disabled_at is not None:
        return None
    return row, user


def revoke(session: Session, token: str, now: datetime) -> SignInSession | None:
    """Revokes the session of a token; returns it if it was live (None if unknown or already revoked)."""
    if not _TOKEN_SHAPE.match(token):
        return None
    return session.scalars(
        update(SignInSession)
        .where(SignInSession.token_hash == hash_token(token), SignInSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(SignInSession)
    ).one_or_none()


def revoke_all(session: Session, user_id: int, now: datetime) -> int:
    """Revokes every live session of a user; returns how many."""
    result = session.execute(
        update(SignInSession)
        .where(SignInSession.user_id == user_id, SignInSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]

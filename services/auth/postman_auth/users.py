"""What an administrator does to a user with postmanctl: disable, enable, set the send rate limit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from postman_auth import audit, sessions
from postman_auth.allowlist import normalise_address
from postman_auth.models import User
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, ServiceError

MAX_RATE_LIMIT = 10_000


def find(session: Session, email: str) -> User:
    """The user with this address (any case); not_found with the address when there is none."""
    address = normalise_address(email)
    user = session.scalars(select(User).where(User.email == address).with_for_update()).one_or_none()
    if user is None:
        raise ServiceError(ErrorCode.NOT_FOUND, f"There is no user with the email address {address!r}")
    return user


def disable(session: Session, email: str, ip: str, now: datetime) -> tuple[User, int]:
    """Disables a user: every session ends at once, and keys stop working (Authenticate checks the user).
    Returns the user and how many sessions were ended."""
    user = find(session, email)
    ended = sessions.revoke_all(session, user.id, now)
    if user.disabled_at is None:
        user.disabled_at = now
    audit.record(session, "user.disabled", user_id=user.id, email=user.email, target_type="user",
                 target_id=user.id, ip=ip, details={"sessions_ended": ended})
    return user, ended


def enable(session: Session, email: str, ip: str) -> User:
    user = find(session, email)
    user.disabled_at = None
    audit.record(session, "user.enabled", user_id=user.id, email=user.email, target_type="user",
                 target_id=user.id, ip=ip)
    return user


def set_rate_limit(session: Session, email: str, per_second: int, ip: str) -> User:
    """Sets how many messages per second the user may send."""
    if not 1 <= per_second <= MAX_RATE_LIMIT:
        raise InvalidArgument(f"The rate limit must be between 1 and {MAX_RATE_LIMIT} sends per second, "
                              f"got {per_second}")
    user = find(session, email)
    previous = user.rate_limit
    user.rate_limit = per_second
    audit.record(session, "user.rate_limit_set", user_id=user.id, email=user.email, target_type="user",
                 target_id=user.id, ip=ip, details={"from": previous, "to": per_second})
    return user

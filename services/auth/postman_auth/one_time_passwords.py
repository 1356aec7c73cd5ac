"""One-time passwords: generated, stored only as a slow salted hash, checked with a limited number of tries.

A password is 6 characters from an alphabet without look-alikes (no 0/O, 1/I/L, 2/Z, 5/S, 8/B), about 27 bits:
few enough that a fast hash of it could be reversed from a copy of the table, so it is stored as scrypt with a
random salt. An address has at most one live password; a new one replaces it, but not sooner than
OTP_RESEND_SECONDS after the previous one. A wrong try uses up one of OTP_MAX_ATTEMPTS; the check and the
decrement happen on the locked row, so parallel guesses cannot get more tries than that.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from postman_auth.models import OneTimePassword
from postman_shared.grpc.errors import ServiceError
from postman_shared.settings import Settings

ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
LENGTH = 6
# scrypt cost: about 6 ms a check here. Stored in each hash, so it can be raised without invalidating anything.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**12, 8, 1


@dataclass(frozen=True)
class OtpPolicy:
    valid_for: timedelta
    max_attempts: int
    resend_after: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> "OtpPolicy":
        return cls(
            valid_for=timedelta(minutes=settings.otp_ttl_minutes),
            max_attempts=settings.otp_max_attempts,
            resend_after=timedelta(seconds=settings.otp_resend_seconds),
        )


def generate_password() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (salt and hash in hex)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    """Constant-time check of a typed password against a stored hash; False for anything malformed."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected) // 2)
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


def normalise_typed_password(typed: str) -> str | None:
    """What a person typed, upper-cased and trimmed; None when it cannot be a password (saves a hash)."""
    cleaned = typed.strip().upper()
    if len(cleaned) != LENGTH or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def issue(session: Session, email: str, ip: str, policy: OtpPolicy, now: datetime) -> str:
    """Stores a new password for the address, replacing any older one, and returns it in clear (for the email).

    Raises ServiceError rate_limit (with retry_after) when the previous one is younger than the resend wait.
    One statement, so two requests at the same moment cannot both get a password.
    """
    password = generate_password()
    values = {
        "password_hash": hash_password(password),
        "attempts_left": policy.max_attempts,
        "requested_ip": ip[:64] or None,
        "created_at": now,
        "expires_at": now + policy.valid_for,
    }
    statement = insert(OneTimePassword).values(email=email, **values).on_conflict_do_update(
        index_elements=[OneTimePassword.email],
        set_=values,
        where=OneTimePassword.created_at <= now - policy.resend_after,
    ).returning(OneTimePassword.email)
    if session.execute(statement).scalar_one_or_none() is None:
        previous = session.scalars(select(OneTimePassword.created_at).where(OneTimePassword.email == email)).one()
        wait = max(1, math.ceil((previous + policy.resend_after - now).total_seconds()))
        raise ServiceError(
            "rate_limit", f"A one-time password was sent moments ago. Please wait {wait} seconds before asking "
            "for a new one.", retry_after=wait,
        )
    return password


class Check(enum.Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"  # wrong password, tries left
    USED_UP = "used_up"  # no tries left: a new password is needed
    EXPIRED = "expired"
    NONE = "none"  # no password was asked for this address


@dataclass(frozen=True)
class CheckResult:
    outcome: Check
    attempts_left: int = 0


def check(session: Session, email: str, typed: str, now: datetime) -> CheckResult:
    """Checks a typed password on the locked row: a right one is deleted (single use), a wrong one costs a try.

    The caller must commit even when the password is wrong, so the spent try is kept.
    """
    row = session.scalars(
        select(OneTimePassword).where(OneTimePassword.email == email).with_for_update()
    ).one_or_none()
    if row is None:
        return CheckResult(Check.NONE)
    if row.expires_at <= now:
        return CheckResult(Check.EXPIRED)
    if row.attempts_left <= 0:
        return CheckResult(Check.USED_UP)
    password = normalise_typed_password(typed)
    if password is not None and password_matches(password, row.password_hash):
        session.execute(delete(OneTimePassword).where(OneTimePassword.email == email))
        return CheckResult(Check.ACCEPTED)
    row.attempts_left -= 1
    session.flush()
    return CheckResult(Check.WRONG if row.attempts_left > 0 else Check.USED_UP, row.attempts_left)

"""One-time passwords: generated, stored only as a slow salted hash, checked with a limited number of tries.

A password is 6 characters from an alphabet without look-alikes (no 0/O, 1/I/L, 2/Z, 5/S, 8/B), about 27 bits:
few enough that a fast hash of it could be reversed from a copy of the table, so it is stored as scrypt with a
random salt.

Anyone may ask for a password for any allowed address, and anyone may type one, so neither may take the real
person's password away from them (issue 13, targeted lock-out):

- A new request adds a password and never replaces an earlier one: an address holds up to MAX_LIVE_PASSWORDS live
  ones, any of which signs in, and a request when that many are live is refused (not the oldest dropped). Every
  one of them was emailed to the address itself, so whoever asked, its owner holds them all. Requests are still
  OTP_RESEND_SECONDS apart.
- Wrong tries are counted per (address, client IP address): OTP_MAX_ATTEMPTS from one client in a window of
  OTP_TTL_MINUTES, after which that client (and only it) is refused until the window ends or it asks for a new
  password. Guessing from elsewhere cannot use up the tries of the person signing in.
- Guessing from many addresses at once is bounded too: once an address's wrong tries from all clients reach
  ``OtpPolicy.address_ceiling`` in the current windows, a password is accepted only from the client IP address that
  asked for it, which is where its owner asked from; a botnet gets no further guesses and the owner is not locked
  out.

Every check and request for an address holds a transaction-scoped advisory lock on it, so parallel guesses get no
more tries than that and parallel requests send one password.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.orm import Session

from postman_auth.models import OneTimePassword, OneTimePasswordFailure
from postman_shared.grpc.errors import ErrorCode, ServiceError
from postman_shared.settings import Settings

ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
LENGTH = 6
# scrypt cost: about 6 ms a check here. Stored in each hash, so it can be raised without invalidating anything.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**12, 8, 1
# Live passwords an address may hold: enough for a person who asked again while the first email was slow, and few
# enough that a check (one scrypt per live password) stays cheap and a guess stays a 1 in 48 million shot.
MAX_LIVE_PASSWORDS = 5
# Wrong tries an address may take from all clients in a window before its passwords are accepted only from the
# client that asked for them, in units of OTP_MAX_ATTEMPTS (so 10 clients' worth of guesses).
ADDRESS_CEILING_CLIENTS = 10
SWEEP_AFTER = timedelta(days=1)
SWEEP_BATCH = 1000


@dataclass(frozen=True)
class OtpPolicy:
    valid_for: timedelta
    max_attempts: int  # wrong tries per (address, client IP address) per window of valid_for
    resend_after: timedelta

    @property
    def address_ceiling(self) -> int:
        """Wrong tries for one address from all clients, in the current windows, past which its passwords are
        accepted only from the client that asked for them."""
        return self.max_attempts * ADDRESS_CEILING_CLIENTS

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


def _lock_address(session: Session, email: str) -> None:
    """Serialises every request and check for this address until the transaction ends (a transaction-scoped
    advisory lock: there may be no row to lock yet)."""
    key = int.from_bytes(hashlib.sha256(b"postman.otp:" + email.encode()).digest()[:8], "big", signed=True)
    session.execute(select(func.pg_advisory_xact_lock(key)))


def _client(ip: str) -> str:
    return ip[:64]


def issue(session: Session, email: str, ip: str, policy: OtpPolicy, now: datetime) -> str:
    """Stores a new password for the address, next to its earlier live ones, and returns it in clear (for the
    email). The client's wrong tries for the address start again from zero.

    Raises ServiceError rate_limit (with retry_after) when the newest password is younger than the resend wait, or
    the address already holds MAX_LIVE_PASSWORDS live ones (it is never made room for by dropping one: that is what
    let anyone void the password a person was about to type).
    """
    _lock_address(session, email)
    session.execute(delete(OneTimePassword).where(OneTimePassword.email == email, OneTimePassword.expires_at <= now))
    _sweep(session, now)
    live = session.execute(
        select(OneTimePassword.created_at, OneTimePassword.expires_at).where(OneTimePassword.email == email)
    ).all()
    if live:
        newest = max(created_at for created_at, _ in live)
        if newest > now - policy.resend_after:
            wait = _seconds_until(newest + policy.resend_after, now)
            raise ServiceError(
                ErrorCode.RATE_LIMIT, f"A one-time password was sent moments ago. Please wait {wait} seconds before "
                "asking for a new one.", retry_after=wait,
            )
        if len(live) >= MAX_LIVE_PASSWORDS:
            wait = _seconds_until(min(expires_at for _, expires_at in live), now)
            raise ServiceError(
                ErrorCode.RATE_LIMIT, f"{len(live)} one-time passwords sent to this address in the last minutes are "
                f"still valid: use the one in your newest email, or wait {wait} seconds before asking for a new one.",
                retry_after=wait,
            )
    password = generate_password()
    session.add(OneTimePassword(email=email, password_hash=hash_password(password), requested_ip=_client(ip) or None,
                                created_at=now, expires_at=now + policy.valid_for))
    session.execute(delete(OneTimePasswordFailure).where(OneTimePasswordFailure.email == email,
                                                         OneTimePasswordFailure.ip == _client(ip)))
    session.flush()
    return password


def _sweep(session: Session, now: datetime) -> None:
    """Drops what expired long ago for any address (addresses that never come back would keep their rows): a day
    late, so no check still working on a row can find it gone, and only rows nobody holds (SKIP LOCKED), so the
    sweep never waits and cannot deadlock with a check or another sweep."""
    long_ago = now - SWEEP_AFTER
    stale_passwords = (select(OneTimePassword.id).where(OneTimePassword.expires_at <= long_ago)
                       .limit(SWEEP_BATCH).with_for_update(skip_locked=True))
    session.execute(delete(OneTimePassword).where(OneTimePassword.id.in_(stale_passwords)))
    stale_failures = (select(OneTimePasswordFailure.email, OneTimePasswordFailure.ip)
                      .where(OneTimePasswordFailure.window_ends_at <= long_ago)
                      .limit(SWEEP_BATCH).with_for_update(skip_locked=True))
    session.execute(delete(OneTimePasswordFailure).where(
        tuple_(OneTimePasswordFailure.email, OneTimePasswordFailure.ip).in_(stale_failures)))


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


class Check(enum.Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"  # wrong password, this client has tries left
    USED_UP = "used_up"  # this client has no tries left: it must wait, or ask for a new password
    EXPIRED = "expired"
    NONE = "none"  # no password was asked for this address


@dataclass(frozen=True)
class CheckResult:
    outcome: Check
    attempts_left: int = 0
    # The address's wrong tries from all clients passed the ceiling: only the client that asked for a password
    # may use it (for the audit trail and the log: the person signing in is told nothing different).
    guarded: bool = False


def check(session: Session, email: str, typed: str, ip: str, policy: OtpPolicy, now: datetime) -> CheckResult:
    """Checks a typed password against the address's live passwords: a right one signs in and ends them all (single
    use), a wrong one costs this client one of its tries.

    The caller must commit even when the password is wrong, so the spent try is kept.
    """
    _lock_address(session, email)
    passwords = list(session.scalars(
        select(OneTimePassword).where(OneTimePassword.email == email)
        .order_by(OneTimePassword.created_at.desc(), OneTimePassword.id.desc())
    ))
    if not passwords:
        return CheckResult(Check.NONE)
    live = [row for row in passwords if row.expires_at > now]
    if not live:
        return CheckResult(Check.EXPIRED)
    client = _client(ip)
    session.execute(delete(OneTimePasswordFailure).where(OneTimePasswordFailure.email == email,
                                                         OneTimePasswordFailure.window_ends_at <= now))
    failures = {row.ip: row for row in session.scalars(
        select(OneTimePasswordFailure).where(OneTimePasswordFailure.email == email))}
    mine = failures.get(client)
    if mine is not None and mine.wrong_tries >= policy.max_attempts:
        return CheckResult(Check.USED_UP)
    guarded = sum(row.wrong_tries for row in failures.values()) >= policy.address_ceiling
    if guarded:
        live = [row for row in live if row.requested_ip == (client or None)]
    password = normalise_typed_password(typed)
    if password is not None and any(password_matches(password, row.password_hash) for row in live):
        session.execute(delete(OneTimePassword).where(OneTimePassword.email == email))
        session.execute(delete(OneTimePasswordFailure).where(OneTimePasswordFailure.email == email))
        return CheckResult(Check.ACCEPTED, guarded=guarded)
    if mine is None:
        mine = OneTimePasswordFailure(email=email, ip=client, wrong_tries=0, window_ends_at=now + policy.valid_for)
        session.add(mine)
    mine.wrong_tries += 1
    session.flush()
    left = max(0, policy.max_attempts - mine.wrong_tries)
    return CheckResult(Check.WRONG if left > 0 else Check.USED_UP, left, guarded)

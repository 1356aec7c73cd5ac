"""Signing in with a one-time password, and the sessions it starts.

Every failure a person can cause is recorded in the audit trail and committed before the error is raised, so a
wrong password both costs its try and leaves a trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from postman_auth import audit, one_time_passwords, otp_email, sessions
from postman_auth.allowlist import MAX_ADDRESS_LENGTH, DomainAllowlist, normalise_address, split_address
from postman_auth.api_keys import get_or_create_user
from postman_auth.domain_access import DomainAccess, not_allowed_message
from postman_auth.models import Session as SignInSession
from postman_auth.models import User
from postman_auth.one_time_passwords import Check, OtpPolicy
from postman_shared.broker.publisher import Publisher
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, ServiceError
from postman_shared.logging import get_logger
from postman_shared.settings import Settings
from postman_shared.timestamps import utcnow

log = get_logger(component="sign-in")

WRONG_OR_EXPIRED = "Wrong or expired one-time password"
_INVALID_SESSION = "Your session has ended or is not valid. Please sign in again."


@dataclass(frozen=True)
class OtpSent:
    valid_for_seconds: int
    resend_after_seconds: int


@dataclass(frozen=True)
class SignedIn:
    token: str  # for the cookie; stored only as a hash
    user: User
    expires_at: datetime


@dataclass(frozen=True)
class SignInRules:
    """What signing in needs of the settings, read once by the service's bootstrap (so a bad DOMAIN_ALLOWLIST stops
    the service at start, with the entry named)."""

    allowlist: DomainAllowlist
    access: DomainAccess  # also checked at every session and API key use
    policy: OtpPolicy
    session_ttl: timedelta
    default_rate_limit: int
    sender: str
    valid_minutes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInRules:
        allowlist = DomainAllowlist.parse(settings.domain_allowlist)
        return cls(allowlist=allowlist, access=DomainAccess(allowlist), policy=OtpPolicy.from_settings(settings),
                   session_ttl=timedelta(hours=settings.session_ttl_hours),
                   default_rate_limit=settings.send_rate_limit_default, sender=settings.email_from,
                   valid_minutes=settings.otp_ttl_minutes)


def request_otp(database: Database, publisher: Publisher, rules: SignInRules, email: str, ip: str) -> OtpSent:
    """Stores a new one-time password for an allowed address and emails it (after the commit)."""
    address = normalise_address(email)
    if split_address(address) is None:
        raise InvalidArgument(f"{email.strip()[:100]!r} is not an email address")
    # The address and the client's IP are in the audit log, not in the service's logs (tests/unit/test_log_privacy)
    bound = log.bind(email_domain=address.rpartition("@")[2])
    if not rules.allowlist.is_allowed(address):
        with database.unit_of_work() as session:
            audit.record(session, "auth.otp_requested", email=address, ip=ip, details={"allowed": False})
        bound.info("one-time password refused: domain not allowed")
        raise ServiceError(ErrorCode.UNAUTHORIZED, "This email address is not allowed to sign in to Postman. "
                                                   "Use your agency email address.")
    with database.unit_of_work() as session:
        password = one_time_passwords.issue(session, address, ip, rules.policy, utcnow())
        audit.record(session, "auth.otp_requested", email=address, ip=ip, details={"allowed": True})
    message = otp_email.compose(address, password, ip, rules.valid_minutes, rules.sender)
    try:
        otp_email.send(publisher, message)
    except ServiceError:
        bound.warning("one-time password email not confirmed by the broker")
        raise
    bound.info("one-time password sent", message_id=message.message_id)
    return OtpSent(int(rules.policy.valid_for.total_seconds()), int(rules.policy.resend_after.total_seconds()))


def login(database: Database, rules: SignInRules, email: str, typed_password: str, ip: str,
          user_agent: str) -> SignedIn:
    """Checks the password and starts a session; creates the user on a first sign-in. An address whose domain
    is no longer allowed is refused before its password is looked at (a password sent before the domain was
    removed must not sign in)."""
    address = normalise_address(email)[:MAX_ADDRESS_LENGTH + 1]  # longer is malformed anyway; keeps logs short
    with database.unit_of_work() as session:
        outcome = _login(session, rules, address, typed_password, ip, user_agent, utcnow())
    bound = log.bind(email_domain=address.rpartition("@")[2])
    if isinstance(outcome, ServiceError):
        bound.info("sign-in refused", reason=outcome.code)  # its message may name the address
        raise outcome
    bound.info("signed in", user_id=outcome.user.id)
    return outcome


def _login(session: Session, rules: SignInRules, address: str, typed_password: str, ip: str, user_agent: str,
           now: datetime) -> SignedIn | ServiceError:
    """The sign-in itself; a refusal is returned, not raised, so that its audit event and the spent try are
    committed."""
    if split_address(address) and not rules.access.is_allowed(address):
        audit.record(session, "auth.login_failed", email=address, ip=ip, details={"reason": "domain_not_allowed"})
        return ServiceError(ErrorCode.UNAUTHORIZED, not_allowed_message(address))
    result = (one_time_passwords.check(session, address, typed_password, ip, rules.policy, now)
              if split_address(address) else one_time_passwords.CheckResult(Check.NONE))
    if result.outcome is not Check.ACCEPTED:
        details: dict[str, object] = {"reason": result.outcome.value}
        if result.guarded:
            details["guarded"] = True  # many clients guessed: only the client that asked may sign in
            log.warning("one-time passwords of this address guessed from many clients: accepted only from the "
                        "client that asked", email_domain=address.rpartition("@")[2])
        audit.record(session, "auth.login_failed", email=address, ip=ip, details=details)
        return ServiceError(ErrorCode.UNATHENTICATED, _wrong_password_message(result))
    user = get_or_create_user(session, address, rate_limit=rules.default_rate_limit)
    if user.disabled_at is not None:
        audit.record(session, "auth.login_failed", user_id=user.id, email=address, ip=ip,
                     details={"reason": "disabled"})
        return ServiceError(ErrorCode.UNATHENTICATED, "This account is disabled. Please ask your administrator.")
    token, row = sessions.start(session, user, ip, user_agent, rules.session_ttl, now)
    audit.record(session, "auth.login", user_id=user.id, email=address, ip=ip, target_type="session",
                 target_id=row.id)
    return SignedIn(token=token, user=user, expires_at=row.expires_at)


def resolve(database: Database, access: DomainAccess, token: str) -> tuple[SignInSession, User]:
    """The live session of a token and its user; ``unauthenticated`` for any other token, ``unauthorized`` when the
    user's domain is no longer allowed."""
    with database.unit_of_work() as session:  # commits nothing; keeps the rows readable afterwards
        found = sessions.resolve(session, token, utcnow())
    if found is None:
        raise ServiceError(ErrorCode.UNATHENTICATED, _INVALID_SESSION)
    access.ensure_allowed(found[1].email, "session", user_id=found[1].id, session_id=found[0].id)
    return found


def logout(database: Database, token: str, ip: str) -> None:
    """Ends the session at once, server-side. Ending an unknown or ended session does nothing."""
    with database.unit_of_work() as session:
        ended = sessions.revoke(session, token, utcnow())
        if ended is not None:
            audit.record(session, "auth.logout", user_id=ended.user_id, ip=ip, target_type="session",
                         target_id=ended.id)
    if ended is not None:
        log.info("signed out", user_id=ended.user_id, session_id=ended.id)


def _wrong_password_message(result: one_time_passwords.CheckResult) -> str:
    if result.outcome is Check.WRONG:
        tries = "try" if result.attempts_left == 1 else "tries"
        return f"{WRONG_OR_EXPIRED}. You have {result.attempts_left} {tries} left."
    if result.outcome is Check.USED_UP:
        return (f"{WRONG_OR_EXPIRED}. There are no tries left from this device's network: please ask for a new "
                "one-time password, or wait a few minutes.")
    # Expired, or never asked for: the same words, so the answer does not tell which addresses have asked.
    return f"{WRONG_OR_EXPIRED}. Please ask for a new one-time password."

"""Sender addresses: the addresses a user has proven they own, the only ones besides the platform's default that
their campaign and transactional email may come from (``postman_shared.sender_rule``).

Proving an address (``verify_address``):

1. It must be one well-formed ASCII address, not the default one (everybody may use that), in a domain allowed by
   ``DOMAIN_ALLOWLIST`` (the agencies' domains).
2. With ``EMAIL_TRANSPORT=ses``, SES must be able to send from it with DKIM (``sender_proof``); otherwise every
   message would be refused by SES or fail DMARC at the receivers.
3. Ownership. An identity of the address itself that SES holds verified (SES mailed it a link of its own; the
   platform team set it up) proves it for users of the same domain or its parent (``moh.gov.sg`` officers for
   ``noreply@mail.moh.gov.sg``). Anything else gets a confirmation link mailed to the address: a 256-bit random
   token, stored only as its SHA-256, valid ``SENDER_CONFIRM_HOURS``, used once; the address is VERIFIED when the
   link's page is confirmed (``confirm_address``). The token is ``<row id>.<secret>``, so it is looked up by id and
   compared in constant time.

A new link to the same address is refused for ``RESEND_SECONDS`` (a mailbox cannot be flooded through Postman), and
a user has at most ``MAX_ADDRESSES`` addresses. Every step is in the audit trail (``sender.*``).

The use cases (``list_addresses``, ``verified_addresses``, ``verify_address``, ``confirm_address``,
``delete_address``) take the ``Database`` and open their own transactions; what proving needs of the settings is
``SenderAddressRules``, read once by the bootstrap.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from postman_auth import audit, sender_confirmation
from postman_auth.allowlist import DomainAllowlist, split_address
from postman_auth.models import SenderAddress, User
from postman_auth.sender_proof import SesProof
from postman_auth.statuses import SenderAddressStatus, VerificationMethod
from postman_shared import sender_rule
from postman_shared.broker.publisher import Publisher
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, NotFound, ServiceError
from postman_shared.logging import get_logger
from postman_shared.settings import Settings
from postman_shared.timestamps import utcnow

MAX_ADDRESSES = 20
RESEND_SECONDS = 60
_TOKEN = re.compile(r"^([1-9][0-9]{0,17})\.([A-Za-z0-9_-]{43})$")
INVALID_LINK = ("This confirmation link does not work: it may have been used already, have expired, or its address "
                "was removed. Ask for a new link in Settings > Sender addresses.")

log = get_logger(component="sender-addresses")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _same_organisation(address: str, user_email: str) -> bool:
    """The address's domain is the user's own, or under it."""
    domain, own = address.rpartition("@")[2], user_email.rpartition("@")[2]
    return domain == own or domain.endswith("." + own)


@dataclass(frozen=True)
class SenderAddressRules:
    """What proving sender addresses needs of the settings (and, with SES, the proof), read once by the service's
    bootstrap (so a bad DOMAIN_ALLOWLIST stops the service at start, with the entry named)."""

    allowlist: DomainAllowlist
    default: str  # the platform's default address: everybody may send from it
    sender: str  # EMAIL_FROM, the From of the confirmation emails
    public_url: str
    valid_hours: int  # SENDER_CONFIRM_HOURS, how long a confirmation link works
    proof: SesProof | None = None  # with EMAIL_TRANSPORT=ses only

    @classmethod
    def from_settings(cls, settings: Settings, proof: SesProof | None = None) -> SenderAddressRules:
        return cls(allowlist=DomainAllowlist.parse(settings.domain_allowlist),
                   default=sender_rule.default_mailbox(settings.email_from).address, sender=settings.email_from,
                   public_url=settings.public_url, valid_hours=settings.sender_confirm_hours, proof=proof)


# --- reading --------------------------------------------------------------------------------------------------------

def list_addresses(database: Database, user_id: int) -> list[SenderAddress]:
    with database.unit_of_work() as session:  # not session(): its rollback would expire the rows
        return list(session.scalars(select(SenderAddress).where(SenderAddress.user_id == user_id)
                                    .order_by(SenderAddress.created_at, SenderAddress.id)))


def verified_addresses(database: Database, user_id: int) -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(SenderAddress.email).where(
            SenderAddress.user_id == user_id, SenderAddress.status == SenderAddressStatus.VERIFIED)
            .order_by(SenderAddress.email)))


# --- proving --------------------------------------------------------------------------------------------------------

def _checked_address(rules: SenderAddressRules, value: str) -> str:
    address = sender_rule.parse_from(value).address
    if address == rules.default:
        raise InvalidArgument(f"{address} is the platform's default address: everybody may send from it, so "
                              "there is nothing to verify", code=ErrorCode.INVALID_FROM_ADDRESS)
    if split_address(address) is None or not rules.allowlist.is_allowed(address):
        raise InvalidArgument(f"{address} is not in a domain allowed to send from Postman: use an address of "
                              "your agency's domain", code=ErrorCode.INVALID_FROM_ADDRESS)
    return address


def verify_address(database: Database, publisher: Publisher, rules: SenderAddressRules, user_id: int, value: str,
                   ip: str) -> SenderAddress:
    """Proves ``value`` for the user: VERIFIED at once (SES holds the address), or PENDING with a link mailed."""
    address = _checked_address(rules, value)
    with database.unit_of_work() as session:
        user = _user(session, user_id)
        existing = _row(session, user_id, address)
        if existing is not None and existing.status == SenderAddressStatus.VERIFIED:
            return existing
        if existing is None and _count(session, user_id) >= MAX_ADDRESSES:
            raise InvalidArgument(f"You have {MAX_ADDRESSES} sender addresses, the most allowed: remove one "
                                  "you no longer use first", code=ErrorCode.INVALID_FROM_ADDRESS)
        if existing is not None:
            _refuse_early_resend(existing, utcnow(), rules.valid_hours)
        user_email = user.email
    proven = rules.proof.check(address) if rules.proof is not None else None  # outside the transaction
    if proven is not None and proven.own_identity and _same_organisation(address, user_email):
        return _store_verified(database, user_id, address, ip)
    return _mail_link(database, publisher, rules, user_id, user_email, address, ip)


def _store_verified(database: Database, user_id: int, address: str, ip: str) -> SenderAddress:
    now = utcnow()
    with database.unit_of_work() as session:
        row = _locked_row(session, user_id, address)
        row.status, row.method, row.verified_at = SenderAddressStatus.VERIFIED, VerificationMethod.SES, now
        row.token_hash = row.token_expires_at = None
        session.flush()
        audit.record(session, "sender.verified", user_id=user_id, target_type="sender_address", target_id=row.id,
                     ip=ip, details={"email": address, "method": VerificationMethod.SES})
    log.info("sender address verified by SES", user_id=user_id, sender_address_id=row.id)
    return row


def _mail_link(database: Database, publisher: Publisher, rules: SenderAddressRules, user_id: int, user_email: str,
               address: str, ip: str) -> SenderAddress:
    now = utcnow()
    with database.unit_of_work() as session:
        row = _locked_row(session, user_id, address)
        if row.status == SenderAddressStatus.VERIFIED:  # verified meanwhile (another tab followed the link)
            return row
        _refuse_early_resend(row, now, rules.valid_hours)
        token = f"{row.id}.{secrets.token_urlsafe(32)}"
        row.method, row.token_hash = VerificationMethod.LINK, hash_token(token)
        row.token_expires_at = now + timedelta(hours=rules.valid_hours)
        session.flush()
        audit.record(session, "sender.verification_requested", user_id=user_id, target_type="sender_address",
                     target_id=row.id, ip=ip, details={"email": address, "method": VerificationMethod.LINK})
    email = sender_confirmation.compose(address, user_email, token, rules.public_url, rules.valid_hours, ip,
                                        rules.sender)
    try:
        sender_confirmation.send(publisher, email)
    except ServiceError:
        _forget_token(database, row.id)  # nobody got it: asking again at once must work
        raise
    log.info("sender address confirmation mailed", user_id=user_id, sender_address_id=row.id,
             message_id=email.message_id)
    return row


def _forget_token(database: Database, row_id: int) -> None:
    with database.unit_of_work() as session:
        row = session.get(SenderAddress, row_id)
        if row is not None and row.status == SenderAddressStatus.PENDING:
            row.token_hash = row.token_expires_at = None


def _refuse_early_resend(row: SenderAddress, now: datetime, valid_hours: int) -> None:
    if row.token_expires_at is None:
        return
    issued = row.token_expires_at - timedelta(hours=valid_hours)
    wait = int((issued + timedelta(seconds=RESEND_SECONDS) - now).total_seconds()) + 1
    if wait > 0:
        raise ServiceError(ErrorCode.RATE_LIMIT, f"A confirmation link was mailed to {row.email} less than a "
                           f"minute ago; check that mailbox, or ask again in {wait} s", retry_after=wait)


# --- confirming -----------------------------------------------------------------------------------------------------

def confirm_address(database: Database, token: str, ip: str, check_only: bool = False) -> SenderAddress:
    """The address of a live link's token, VERIFIED unless ``check_only``; invalid_parameters for any other."""
    match = _TOKEN.match(token.strip())
    if match is None:
        raise InvalidArgument(INVALID_LINK)
    now = utcnow()
    with database.unit_of_work() as session:
        row = session.scalars(select(SenderAddress).where(SenderAddress.id == int(match.group(1)))
                              .with_for_update()).one_or_none()
        live = (row is not None and row.status == SenderAddressStatus.PENDING and row.token_hash is not None
                and row.token_expires_at is not None and row.token_expires_at > now
                and hmac.compare_digest(row.token_hash, hash_token(token.strip())))
        if not live:
            log.info("sender address confirmation refused", sender_address_id=int(match.group(1)))
            raise InvalidArgument(INVALID_LINK)
        assert row is not None
        user = session.get(User, row.user_id)
        if user is None or user.disabled_at is not None:
            raise InvalidArgument(INVALID_LINK)
        if check_only:
            return row
        row.status, row.verified_at = SenderAddressStatus.VERIFIED, now
        row.token_hash = row.token_expires_at = None  # single use
        session.flush()
        audit.record(session, "sender.verified", user_id=row.user_id, target_type="sender_address",
                     target_id=row.id, ip=ip, details={"email": row.email, "method": VerificationMethod.LINK})
    log.info("sender address verified by its link", user_id=row.user_id, sender_address_id=row.id)
    return row


# --- removing -------------------------------------------------------------------------------------------------------

def delete_address(database: Database, user_id: int, sender_address_id: int, ip: str) -> SenderAddress:
    """Removes one of the user's addresses; NotFound for anyone else's. Campaigns that use it are refused at
    their next send (and a scheduled one is not released)."""
    with database.unit_of_work() as session:
        row = session.scalars(select(SenderAddress).where(
            SenderAddress.id == sender_address_id, SenderAddress.user_id == user_id)).one_or_none()
        if row is None:
            raise NotFound("Sender address")
        session.execute(delete(SenderAddress).where(SenderAddress.id == row.id))
        audit.record(session, "sender.removed", user_id=user_id, target_type="sender_address", target_id=row.id,
                     ip=ip, details={"email": row.email})
    log.info("sender address removed", user_id=user_id, sender_address_id=row.id)
    return row


# --- rows: building blocks inside one use case's transaction --------------------------------------------------------

def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User")
    if user.disabled_at is not None:
        raise ServiceError(ErrorCode.UNAUTHORIZED, f"The account {user.email} is disabled")
    return user


def _row(session: Session, user_id: int, address: str) -> SenderAddress | None:
    return session.scalars(select(SenderAddress).where(SenderAddress.user_id == user_id,
                                                       SenderAddress.email == address)).one_or_none()


def _count(session: Session, user_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(SenderAddress)
                              .where(SenderAddress.user_id == user_id)) or 0)


def _locked_row(session: Session, user_id: int, address: str) -> SenderAddress:
    """The user's row of the address, created PENDING if missing, locked until the commit (two requests for the
    same address wait for each other instead of colliding on the unique key)."""
    session.execute(insert(SenderAddress).values(user_id=user_id, email=address, status=SenderAddressStatus.PENDING,
                                                 method=VerificationMethod.LINK, created_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["user_id", "email"]))
    return session.scalars(select(SenderAddress).where(SenderAddress.user_id == user_id,
                                                       SenderAddress.email == address)
                           .with_for_update()).one()

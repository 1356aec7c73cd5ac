"""Users and API keys: keys are random, shown once, and stored only as a SHA-256 hash.

A key has Postman's shape ``name_version_secret``: ``live_v1_`` (or ``test_v1_`` for a test key) followed by 40
random letters and digits (about 238 bits), so a plain SHA-256 is enough to store it safely; no salt or slow hash is
needed for a secret with that much entropy. A test key works everywhere a live key does, but every message it sends
is simulated by the senders: no provider is ever called for it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from postman_auth import audit
from postman_auth.allowlist import normalise_address, split_address
from postman_auth.domain_access import DomainAccess
from postman_auth.models import ApiKey, ApiKeyNotice, User
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, NotFound, ServiceError
from postman_shared.timestamps import utcnow

KEY_PREFIX = "live_v1_"
TEST_KEY_PREFIX = "test_v1_"
_ALPHABET = string.ascii_letters + string.digits
_KEY_SHAPE = re.compile(r"^[A-Za-z0-9]+_v[0-9]+_[A-Za-z0-9]{20,200}$")
LAST_USED_GRANULARITY = timedelta(seconds=60)
MAX_NOTIFICATION_CONTACTS = 5
CONTACTS_FIELD = "notification_contacts"
REVOKED_NOTICE = "revoked"  # the kind of the api_key_notices row of a revocation's email


class InvalidEmail(ValueError):
    pass


@dataclass(frozen=True)
class AuthenticatedUser:
    user_id: int
    email: str
    api_key_id: int
    rate_limit: int
    test: bool = False


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key(test: bool = False) -> str:
    return (TEST_KEY_PREFIX if test else KEY_PREFIX) + "".join(secrets.choice(_ALPHABET) for _ in range(40))


def normalise_email(email: str) -> str:
    if split_address(email) is None:
        raise InvalidEmail(f"{email.strip()!r} is not an email address")
    return normalise_address(email)


def get_or_create_user(session: Session, email: str, rate_limit: int | None = None) -> User:
    """The user with this address, created (with ``rate_limit`` sends per second, if given) when new."""
    address = normalise_email(email)
    user = session.scalars(select(User).where(User.email == address)).one_or_none()
    if user is None:
        user = User(email=address, created_at=datetime.now(timezone.utc))
        if rate_limit is not None:
            user.rate_limit = rate_limit
        session.add(user)
        session.flush()
    return user


def create_api_key(session: Session, user: User, label: str, valid_for: timedelta | None = None,
                   test: bool = False) -> str:
    """Stores a new key for the user and returns it in clear: the only time it is ever available."""
    return _store_key(session, user, label, valid_for, test)[1]


def _store_key(session: Session, user: User, label: str, valid_for: timedelta | None,
               test: bool = False, contacts: list[str] | None = None) -> tuple[ApiKey, str]:
    key = generate_key(test)
    now = datetime.now(timezone.utc)
    row = ApiKey(user_id=user.id, label=label, key_hash=hash_key(key), last_five=key[-5:], created_at=now,
                 expires_at=now + valid_for if valid_for else None, test=test, notification_contacts=contacts or [])
    session.add(row)
    session.flush()
    return row, key


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
    return AuthenticatedUser(user_id=user.id, email=user.email, api_key_id=api_key.id, rate_limit=user.rate_limit,
                             test=api_key.test)


def clean_label(label: str) -> str:
    cleaned = label.strip()
    if not 1 <= len(cleaned) <= 100:
        raise InvalidArgument("An API key needs a label of 1 to 100 characters, e.g. the system that will use it")
    return cleaned


def clean_contacts(contacts: Sequence[str], allowed: Callable[[str], bool] = lambda _address: True) -> list[str]:
    """The notification contacts of a key: at most 5 well-formed addresses, lower-cased, each once (in the order
    given), each ``allowed`` (in DOMAIN_ALLOWLIST: reminders name the key's label, which only people of the
    installation's own domains should read). An ``api_validation`` error naming ``notification_contacts`` (and the
    position at fault) otherwise."""
    if len(contacts) > MAX_NOTIFICATION_CONTACTS:
        raise ServiceError(ErrorCode.API_VALIDATION, f'"{CONTACTS_FIELD}" may list at most {MAX_NOTIFICATION_CONTACTS} '
                                                     f"email addresses, got {len(contacts)}")
    cleaned: list[str] = []
    for position, contact in enumerate(contacts):
        if split_address(contact) is None:  # the address itself is not echoed: errors may be logged
            raise ServiceError(ErrorCode.API_VALIDATION, f'"{CONTACTS_FIELD}[{position}]" is not an email address')
        address = normalise_address(contact)
        if not allowed(address):
            raise ServiceError(ErrorCode.API_VALIDATION, f'"{CONTACTS_FIELD}[{position}]" is not an address of a '
                               "domain allowed to use Postman (DOMAIN_ALLOWLIST)")
        if address not in cleaned:
            cleaned.append(address)
    return cleaned


def issue_for_user(session: Session, user_id: int, label: str, ip: str, valid_for: timedelta,
                   test: bool = False, contacts: Sequence[str] = (),
                   allowed: Callable[[str], bool] = lambda _address: True) -> tuple[ApiKey, str]:
    """A new key for a signed-in user, recorded in the audit trail; returns the row and the key in clear."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User")
    if user.disabled_at is not None:
        raise ServiceError(ErrorCode.UNAUTHORIZED, f"The account {user.email} is disabled: it cannot have new API keys")
    label, notification_contacts = clean_label(label), clean_contacts(contacts, allowed)
    row, key = _store_key(session, user, label, valid_for, test, notification_contacts)
    audit.record(session, "api_key.created", user_id=user.id, target_type="api_key", target_id=row.id, ip=ip,
                 details={"label": row.label, "last_five": row.last_five, "test": test,
                          "notification_contacts": len(notification_contacts)})
    return row, key


def list_for_user(session: Session, user_id: int) -> list[ApiKey]:
    """The user's keys that are not revoked (expired ones included, so they can be seen and replaced), newest
    first."""
    return list(session.scalars(
        select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    ))


def revoke_for_user(session: Session, user_id: int, api_key_id: int, ip: str, now: datetime) -> ApiKey:
    """Revokes one of the user's own keys at once. NotFound for anyone else's key, or one already revoked."""
    row = session.scalars(
        select(ApiKey).where(ApiKey.id == api_key_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFound("API key")
    row.revoked_at = now
    audit.record(session, "api_key.revoked", user_id=user_id, target_type="api_key", target_id=row.id, ip=ip,
                 details={"label": row.label, "last_five": row.last_five})
    # The email to the owner and contacts, written with the revocation (never for one rolled back) and sent by
    # key_reminders: at once, woken by the caller, or at its next look if the broker was away.
    session.execute(insert(ApiKeyNotice).values(api_key_id=row.id, kind=REVOKED_NOTICE)
                    .on_conflict_do_nothing(index_elements=["api_key_id", "kind"]))
    return row


# --- use cases: each opens its own transaction; the functions above are their steps ---


def authenticate_key(database: Database, key: str, access: DomainAccess) -> AuthenticatedUser:
    """The user behind an API key (its last use noted), or ``unauthenticated`` for a key that does not work and
    ``unauthorized`` for one whose address's domain is no longer allowed (checked at every use, see domain_access)."""
    with database.unit_of_work() as session:
        user = authenticate(session, key)
    if user is None:
        raise ServiceError(ErrorCode.UNATHENTICATED, "Invalid API key")
    access.ensure_allowed(user.email, "api_key", user_id=user.user_id, api_key_id=user.api_key_id)
    return user


def issue_key(database: Database, user_id: int, label: str, ip: str, valid_for: timedelta, test: bool = False,
              contacts: Sequence[str] = (), allowed: Callable[[str], bool] = lambda _address: True,
              ) -> tuple[ApiKey, str]:
    """A signed-in user's new key (``issue_for_user``, committed with its audit event): the row and the key in
    clear."""
    with database.unit_of_work() as session:
        return issue_for_user(session, user_id, label, ip, valid_for, test=test, contacts=contacts, allowed=allowed)


def list_keys(database: Database, user_id: int) -> list[ApiKey]:
    """The user's live keys (``list_for_user``), detached so they can be read after the read-only session ends
    (its rollback would expire them)."""
    with database.session() as session:
        rows = list_for_user(session, user_id)
        session.expunge_all()
        return rows


def revoke_key(database: Database, user_id: int, api_key_id: int, ip: str,
               on_revoked: Callable[[], object] | None = None) -> ApiKey:
    """Revokes one of the user's own keys (``revoke_for_user``); NotFound for user 0, who owns no key. Once the
    revocation is committed ``on_revoked`` is called: key_reminders' wake, so its email goes now rather than at the
    loop's next look."""
    if user_id <= 0:
        raise NotFound("API key")
    with database.unit_of_work() as session:
        row = revoke_for_user(session, user_id, api_key_id, ip, utcnow())
    if on_revoked is not None:
        on_revoked()
    return row

"""What an operator does to the auth service with postmanctl: the one module of auth that postmanctl imports.

Each use case takes the database and plain arguments, does its work in its own transaction with the use-case
modules the gRPC API uses too (``api_keys``, ``users``, ``agencies``, ``audit``), and returns plain data: no ORM
object leaves this module, so postmanctl never depends on auth's tables. Every change is recorded in the audit trail
with ``ip`` "cli" (``CLI_IP``). A refusal is the use case's own ``ServiceError`` (or ``InvalidEmail``), whose message
postmanctl prints.

To give postmanctl a new power over auth, add a function here (and a command module in lib/postman_ctl).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from postman_auth import agencies, api_keys, audit, users
from postman_auth.agencies import AgencyListing as AgencyListing
from postman_auth.allowlist import normalise_address as normalise_address
from postman_auth.api_keys import InvalidEmail as InvalidEmail
from postman_auth.models import User
from postman_shared.db import Database

CLI_IP = audit.CLI_IP


@dataclass(frozen=True)
class UserSummary:
    id: int
    email: str
    rate_limit: int


@dataclass(frozen=True)
class DisabledUser:
    id: int
    email: str
    sessions_ended: int


@dataclass(frozen=True)
class AgencySummary:
    name: str
    logo_uri: str | None


@dataclass(frozen=True)
class DomainAdded:
    domain: str  # as stored: lower-cased, without a leading @ or a trailing dot
    added: bool  # False when it belonged to the agency already


@dataclass(frozen=True)
class AuditEntry:
    """One event of the trail, with the address of its user (or the one it was recorded with)."""

    at: datetime
    user_id: int | None
    email: str | None
    action: str
    target_type: str | None
    target_id: str | None
    ip: str | None
    details: dict[str, Any] | None


def _summary(user: User) -> UserSummary:
    return UserSummary(user.id, user.email, user.rate_limit)


# --- users and API keys ---------------------------------------------------------------------------------------------

def create_user(database: Database, email: str, rate_limit: int) -> UserSummary:
    """The user with this address, created (sending ``rate_limit`` messages per second) when new."""
    with database.unit_of_work() as session:
        return _summary(api_keys.get_or_create_user(session, email, rate_limit=rate_limit))


def create_api_key(database: Database, email: str, label: str, valid_for: timedelta, rate_limit: int,
                   test: bool = False) -> str:
    """A new key for the user (created when new), in clear: the only time it is ever available."""
    with database.unit_of_work() as session:
        user = api_keys.get_or_create_user(session, email, rate_limit=rate_limit)
        _row, key = api_keys.issue_for_user(session, user.id, label, CLI_IP, valid_for, test=test)
    return key


def disable_user(database: Database, email: str, now: datetime) -> DisabledUser:
    """Disables the user at once (committed before this returns): sessions end, API keys are refused."""
    with database.unit_of_work() as session:
        user, ended = users.disable(session, email, CLI_IP, now)
        return DisabledUser(user.id, user.email, ended)


def enable_user(database: Database, email: str) -> UserSummary:
    with database.unit_of_work() as session:
        return _summary(users.enable(session, email, CLI_IP))


def set_rate_limit(database: Database, email: str, per_second: int) -> UserSummary:
    with database.unit_of_work() as session:
        return _summary(users.set_rate_limit(session, email, per_second, CLI_IP))


def find_user(database: Database, email: str) -> UserSummary | None:
    """The user with this address (any case), or None."""
    with database.session() as session:
        user = session.scalars(select(User).where(User.email == normalise_address(email))).one_or_none()
        return _summary(user) if user is not None else None


def emails_of(database: Database, user_ids: set[int]) -> dict[int, str]:
    """The address of each of these users that exists."""
    if not user_ids:
        return {}
    with database.session() as session:
        return dict(session.execute(select(User.id, User.email).where(User.id.in_(user_ids))).all())


# --- the audit trail ------------------------------------------------------------------------------------------------

def record_action(database: Database, action: str, *, user_id: int | None = None, email: str | None = None,
                  target_type: str | None = None, target_id: str | int | None = None,
                  details: dict[str, Any] | None = None) -> None:
    """Records, in its own transaction, what postmanctl did through another service (a suppression entry added
    over campaign's gRPC, a user's campaigns stopped): the trail is auth's, whoever did the work."""
    with database.unit_of_work() as session:
        audit.record(session, action, user_id=user_id, email=email, target_type=target_type, target_id=target_id,
                     ip=CLI_IP, details=details)


def audit_trail(database: Database, *, email: str | None = None, action: str | None = None,
                since: datetime | None = None, limit: int = 50) -> list[AuditEntry]:
    """Events newest first; ``email`` matches the event's user or the address it was recorded with."""
    with database.unit_of_work() as session:  # reads only
        events = audit.query(session, email=email, action=action, since=since, limit=limit)
        return [AuditEntry(at=event.at, user_id=event.user_id, email=address, action=event.action,
                           target_type=event.target_type, target_id=event.target_id, ip=event.ip,
                           details=event.details)
                for event, address in events]


# --- agencies -------------------------------------------------------------------------------------------------------

def add_agency(database: Database, name: str, logo_uri: str, domains: list[str]) -> AgencySummary:
    with database.unit_of_work() as session:
        agency = agencies.add(session, name, logo_uri, domains, CLI_IP)
        return AgencySummary(agency.name, agency.logo_uri)


def list_agencies(database: Database) -> list[AgencyListing]:
    """Every agency by name, each with its domains in order."""
    with database.unit_of_work() as session:  # reads only
        return agencies.listing(session)


def set_agency_logo(database: Database, name: str, logo_uri: str) -> AgencySummary:
    with database.unit_of_work() as session:
        agency = agencies.set_logo(session, name, logo_uri, CLI_IP)
        return AgencySummary(agency.name, agency.logo_uri)


def add_agency_domain(database: Database, name: str, domain: str) -> DomainAdded:
    with database.unit_of_work() as session:
        added = agencies.add_domain(session, name, domain, CLI_IP)
    return DomainAdded(agencies.checked_domain(domain), added)

"""The audit trail: who did what, when, from which IP address. Rows are only ever appended.

Action names are lower-case words joined by dots (``auth.login``, ``api_key.revoked``, ``campaign.sent``).
Secrets never go in: not a password, a key or a token, only ids and the last five characters of a key.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postman_auth.models import AuditEvent, User
from postman_shared.db import Database
from postman_shared.grpc.errors import InvalidArgument

_ACTION = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")
CLI_IP = "cli"  # the ``ip`` of actions taken with postmanctl


def record(session: Session, action: str, *, user_id: int | None = None, email: str | None = None,
           target_type: str | None = None, target_id: str | int | None = None, ip: str | None = None,
           details: dict[str, Any] | None = None) -> AuditEvent:
    """Adds one event in the caller's transaction, so it is kept exactly when the action it describes is."""
    if not _ACTION.match(action) or len(action) > 64:
        raise InvalidArgument(f"Audit action {action!r} must be lower-case words joined by dots, e.g. auth.login")
    event = AuditEvent(
        action=action, user_id=user_id, email=email[:320] if email else None,
        target_type=target_type[:32] if target_type else None,
        target_id=str(target_id)[:64] if target_id is not None else None,
        ip=ip[:64] if ip else None, details=details or None,
    )
    session.add(event)
    return event



def record_event(database: Database, action: str, *, user_id: int | None = None, target_type: str | None = None,
                 target_id: str | int | None = None, ip: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
    """An event another service reports (RecordAudit), in a transaction of its own: that service's action is
    already done."""
    with database.unit_of_work() as session:
        record(session, action, user_id=user_id, target_type=target_type, target_id=target_id, ip=ip,
               details=details)


def parse_details(details_json: str) -> dict[str, Any] | None:
    """The details of an event sent over gRPC: a JSON object, or nothing when empty."""
    if not details_json.strip():
        return None
    try:
        details = json.loads(details_json)
    except ValueError as exc:
        raise InvalidArgument(f"Audit details are not valid JSON: {exc}") from None
    if not isinstance(details, dict):
        raise InvalidArgument("Audit details must be a JSON object")
    return details


def query(session: Session, *, email: str | None = None, action: str | None = None, since: datetime | None = None,
          limit: int = 50) -> list[tuple[AuditEvent, str | None]]:
    """Events newest first, each with the email of its user (or the address it was recorded with)."""
    statement = (
        select(AuditEvent, User.email)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    if email is not None:
        address = email.strip().lower()
        statement = statement.where((User.email == address) | (AuditEvent.email == address))
    if action is not None:
        statement = statement.where(AuditEvent.action == action)
    if since is not None:
        statement = statement.where(AuditEvent.at >= since)
    return [(event, user_email or event.email) for event, user_email in session.execute(statement).all()]

"""``postmanctl audit``: the audit trail, newest first, as lines for people or JSON lines for tools."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from typing import Any

from postman_auth import operator as auth
from postman_auth.operator import AuditEntry
from postman_shared.db import Database
from postman_shared.settings import Settings


def _since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date or time such as 2026-01-31 or 2026-01-31T08:00:00+08:00, got {text!r}"
        ) from None
    # A date or time without a zone is read as UTC, the zone the trail is printed in.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 10_000:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 10000, got {text!r}")
    return int(text)


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("audit", help="show the audit trail, newest first")
    parser.add_argument("--user", metavar="EMAIL", help="only events of this user (or recorded with this address)")
    parser.add_argument("--action", help="only this action, e.g. auth.login_failed")
    parser.add_argument("--since", type=_since, metavar="ISO-DATE", help="only events at or after this time")
    parser.add_argument("--limit", type=_limit, default=50, help="at most this many events (default 50)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(run=run)


def as_dict(event: AuditEntry) -> dict[str, Any]:
    return {
        "at": event.at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "user_id": event.user_id, "email": event.email, "action": event.action, "target_type": event.target_type,
        "target_id": event.target_id, "ip": event.ip, "details": event.details,
    }


def as_line(event: AuditEntry) -> str:
    row = as_dict(event)
    target = f"{event.target_type}:{event.target_id}" if event.target_type else (event.target_id or "-")
    details = json.dumps(event.details, separators=(",", ":"), sort_keys=True) if event.details else ""
    return "  ".join([row["at"], event.email or "-", event.action, target, event.ip or "-", details]).rstrip()


def run(args: argparse.Namespace, settings: Settings) -> int:
    events = auth.audit_trail(Database(settings.database_url, pool_size=1), email=args.user, action=args.action,
                              since=args.since, limit=args.limit)
    for event in events:
        print(json.dumps(as_dict(event), separators=(",", ":")) if args.json else as_line(event))
    if not events and not args.json:
        print("postmanctl: no audit events match", file=sys.stderr)
    return 0

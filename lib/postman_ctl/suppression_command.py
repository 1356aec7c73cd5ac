"""``postmanctl suppression``: support's hands on the suppression list (who must not receive messages).

The list belongs to the running campaign service, so every read and change goes through SuppressionService at
CAMPAIGN_ADDR, under the rules the senders and the officers' page get. What postmanctl asks of auth (through
``postman_auth.operator``) is an owner's id from their address, the addresses of the owners it lists, and the audit
trail, where every change is recorded with ``ip`` "cli".

Recipients are checked here with the service's own rules before any call, so that a file's bad rows are named by
line number and an import adds every row or none.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from postman.v1 import suppression_pb2
from postman_auth import operator as auth
from postman_ctl.suppression_file import Refused, normalised, read_recipients
from postman_shared.db import Database
from postman_shared.grpc import client
from postman_shared.grpc.errors import ErrorCode, ServiceError
from postman_shared.grpc.identity import load_identity
from postman_shared.outcomes import SuppressionReason
from postman_shared.settings import Settings
from postman_shared.suppression_client import NewSuppression, SuppressionClient
from postman_shared.timestamps import to_iso

CHANNELS = ("EMAIL", "SMS", "TELEGRAM")
REASONS = tuple(reason.value for reason in SuppressionReason)
BATCH_SIZE = 500  # entries per AddSuppressions call
MAX_LIST = 1000
MAX_DETAIL = 1000  # what the service keeps of a detail
CONNECT_SECONDS = 5.0
MAX_REPORTED_PROBLEMS = 20  # a file of 10,000 bad rows needs its first few named, not all of them
CREATED_BY = "support"


class Unreachable(Exception):
    """The campaign service did not answer: exit code 1."""


@dataclass(frozen=True)
class Scope:
    """Whose entry: global (``user_id`` 0, every agency) or one owner's."""

    user_id: int = 0
    email: str | None = None

    def __str__(self) -> str:
        return self.email or "global"


def _scope(database: Database, owner: str | None) -> Scope:
    if owner is None:
        return Scope()
    address = auth.normalise_address(owner)
    user = auth.find_user(database, address)
    if user is None:
        raise Refused(f"There is no user with the email address {address!r} (--owner is an officer's sign-in address)")
    return Scope(user.id, address)


@contextmanager
def _auth_database(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url, pool_size=1)
    try:
        yield database
    finally:
        database.dispose()


def _suppression_list(settings: Settings) -> SuppressionClient:
    """The client, once the campaign service has answered: a wrong CAMPAIGN_ADDR fails in seconds, and clearly.
    It calls as postmanctl (see ``run``)."""
    try:
        grpc.channel_ready_future(client.channel(settings.campaign_addr)).result(timeout=CONNECT_SECONDS)
    except grpc.FutureTimeoutError:
        raise Unreachable(f"no answer within {CONNECT_SECONDS:g} seconds; is it running, "
                          "and is CAMPAIGN_ADDR right?") from None
    return SuppressionClient(settings.campaign_addr)


def _entry_of(suppressions: SuppressionClient, channel: str, recipient: str,
              scope: Scope) -> suppression_pb2.Suppression | None:
    entries, _total = suppressions.list(channel=channel, recipient=recipient, limit=MAX_LIST)
    return next((entry for entry in entries if entry.user_id == scope.user_id), None)


def _audit_details(channel: str, recipient: str, scope: Scope, reason: str) -> dict[str, Any]:
    return {"channel": channel, "recipient": recipient, "scope": str(scope), "reason": reason}


# --- list -------------------------------------------------------------------------------------------------------


def as_dict(entry: suppression_pb2.Suppression, scope: str) -> dict[str, Any]:
    return {"id": entry.id, "created_at": to_iso(entry.created_at), "channel": entry.channel,
            "recipient": entry.recipient, "scope": scope, "user_id": entry.user_id, "reason": entry.reason,
            "created_by": entry.created_by or None, "source_campaign_id": entry.source_campaign_id or None,
            "source_message_id": entry.source_message_id or None, "detail": entry.detail or None,
            "can_lift": entry.can_lift}


def as_line(entry: suppression_pb2.Suppression, scope: str) -> str:
    source = f"campaign:{entry.source_campaign_id}" if entry.source_campaign_id else "-"
    detail = " ".join(entry.detail.split())  # one entry, one line, whatever the provider wrote
    return "  ".join([str(entry.id), to_iso(entry.created_at) or "-", entry.channel, entry.recipient, scope,
                      entry.reason, entry.created_by or "-", source, detail]).rstrip()


def _list(args: argparse.Namespace, settings: Settings) -> int:
    recipient = ""
    if args.recipient is not None:
        # Without --channel, as the service reads it: an address is email, anything else a number.
        guessed = args.channel or ("EMAIL" if "@" in args.recipient else "SMS")
        recipient = normalised(guessed, args.recipient, settings.default_phone_region)
    with _auth_database(settings) as database:
        scope = _scope(database, args.owner)
        entries, total = _suppression_list(settings).list(
            user_id=scope.user_id, channel=args.channel or "", recipient=recipient, reason=args.reason or "",
            limit=args.limit, offset=args.offset)
        emails = auth.emails_of(database, {entry.user_id for entry in entries} - {0})
    for entry in entries:
        owner = emails.get(entry.user_id, f"user:{entry.user_id}") if entry.user_id else "global"
        print(json.dumps(as_dict(entry, owner), separators=(",", ":")) if args.json else as_line(entry, owner))
    after = f" after the first {args.offset}" if args.offset else ""
    print(f"postmanctl: {len(entries)} of {total} entries{after}", file=sys.stderr)
    return 0


# --- add and remove ---------------------------------------------------------------------------------------------


def _add(args: argparse.Namespace, settings: Settings) -> int:
    recipient = normalised(args.channel, args.recipient, settings.default_phone_region)
    with _auth_database(settings) as database:
        scope = _scope(database, args.owner)
        suppressions = _suppression_list(settings)
        added = suppressions.add([NewSuppression(args.channel, recipient, scope.user_id, args.reason,
                                                 detail=args.detail, created_by=CREATED_BY)])
        entry = _entry_of(suppressions, args.channel, recipient, scope)
        entry_id = entry.id if entry is not None else None
        if added:  # the trail says who changed the list; finding an entry already there changes nothing
            auth.record_action(database, "suppression.added", user_id=scope.user_id or None, email=scope.email,
                               target_type="suppression", target_id=entry_id,
                               details=_audit_details(args.channel, recipient, scope, args.reason))
    where = f"{args.channel} {recipient} ({scope})"
    if added:
        print(f"postmanctl: added {where}, reason {args.reason}, as entry {entry_id}", file=sys.stderr)
    else:
        kept = f"reason {entry.reason} since {to_iso(entry.created_at)}, entry {entry.id}" if entry else "kept"
        print(f"postmanctl: {where} was already on the list ({kept}); the first entry is kept", file=sys.stderr)
    return 0


def _remove(args: argparse.Namespace, settings: Settings) -> int:
    by_recipient = args.channel is not None or args.recipient is not None or args.owner is not None
    if args.entry_id is not None and by_recipient:
        raise Refused("give the id of an entry or --channel and --recipient, not both")
    if args.entry_id is None and not by_recipient:
        raise Refused("give the id of an entry (see postmanctl suppression list) or --channel and --recipient")
    if by_recipient and (args.channel is None or args.recipient is None):
        raise Refused("--channel and --recipient are both needed to find the entry to remove")
    recipient = normalised(args.channel, args.recipient, settings.default_phone_region) if by_recipient else ""
    with _auth_database(settings) as database:
        scope = _scope(database, args.owner)
        suppressions = _suppression_list(settings)
        entry_id = args.entry_id
        if by_recipient:
            entry = _entry_of(suppressions, args.channel, recipient, scope)
            if entry is None:
                raise Refused(f"{args.channel} {recipient} is not on the list ({scope})")
            entry_id = entry.id
        try:
            lifted = suppressions.lift(entry_id)
        except ServiceError as exc:
            if exc.code == ErrorCode.NOT_FOUND:
                raise Refused(f"there is no suppression entry {entry_id}") from None
            raise
        owner = Scope(lifted.user_id, auth.emails_of(database, {lifted.user_id}).get(lifted.user_id)) \
            if lifted.user_id else Scope()
        auth.record_action(database, "suppression.removed", user_id=owner.user_id or None, email=owner.email,
                           target_type="suppression", target_id=lifted.id,
                           details=_audit_details(lifted.channel, lifted.recipient, owner, lifted.reason))
    print(f"postmanctl: removed entry {lifted.id}: {lifted.channel} {lifted.recipient} ({owner}), "
          f"reason {lifted.reason}", file=sys.stderr)
    return 0


# --- import -----------------------------------------------------------------------------------------------------


def _already_listed(suppressions: SuppressionClient, channel: str, scope: Scope,
                    recipients: Sequence[str]) -> set[str]:
    """Which recipients already have an entry in this scope (for --dry-run)."""
    if not scope.user_id:
        # Screening counts every global entry, whatever its reason or UNSUBSCRIBE_SCOPE.
        listed: set[str] = set()
        for start in range(0, len(recipients), BATCH_SIZE):
            batch = recipients[start:start + BATCH_SIZE]
            listed.update(recipient for _owner, recipient in
                          suppressions.screen(channel, [(0, r) for r in batch], transactional=True))
        return listed
    # An owner's screening also counts the global entries; their own page lists exactly their entries.
    own: set[str] = set()
    offset = 0
    while True:
        entries, total = suppressions.list(user_id=scope.user_id, channel=channel, limit=MAX_LIST, offset=offset)
        own.update(entry.recipient for entry in entries if entry.user_id == scope.user_id)
        offset += len(entries)
        if not entries or offset >= total:
            return own & set(recipients)


def _import(args: argparse.Namespace, settings: Settings) -> int:
    found = read_recipients(args.file, args.channel, settings.default_phone_region)
    if found.problems:
        for problem in found.problems[:MAX_REPORTED_PROBLEMS]:
            print(f"postmanctl: {problem}", file=sys.stderr)
        if len(found.problems) > MAX_REPORTED_PROBLEMS:
            print(f"postmanctl: ... and {len(found.problems) - MAX_REPORTED_PROBLEMS} more", file=sys.stderr)
        raise Refused(f"{len(found.problems)} invalid row(s) in {args.file}; nothing was added")
    if not found.recipients:
        raise Refused(f"{args.file} holds no recipients; nothing was added")
    duplicates = found.rows - len(found.recipients)
    counted = f"{found.rows} row(s), {duplicates} duplicate(s) within the file"
    with _auth_database(settings) as database:
        scope = _scope(database, args.owner)
        suppressions = _suppression_list(settings)
        if args.dry_run:
            already = len(_already_listed(suppressions, args.channel, scope, found.recipients))
            print(f"postmanctl: dry run ({scope}): {len(found.recipients) - already} would be added, {already} "
                  f"already on the list ({counted}); nothing was added", file=sys.stderr)
            return 0
        added, done, failure = 0, 0, None
        for start in range(0, len(found.recipients), BATCH_SIZE):
            batch = found.recipients[start:start + BATCH_SIZE]
            try:
                added += suppressions.add([NewSuppression(args.channel, recipient, scope.user_id, args.reason,
                                                          detail=args.detail, created_by=CREATED_BY)
                                           for recipient in batch])
            except ServiceError as exc:
                failure = exc
                break
            done += len(batch)
        # Recorded even when a batch failed: the batches before it did change the list. No one entry is the
        # target; the details say which file did what.
        auth.record_action(database, "suppression.imported", user_id=scope.user_id or None, email=scope.email,
                           details={"file": args.file.name, "channel": args.channel, "scope": str(scope),
                                    "reason": args.reason, "rows": found.rows, "recipients": len(found.recipients),
                                    "added": added, "already": done - added, "complete": failure is None})
    if failure is not None:
        print(f"postmanctl: the import stopped after {done} of {len(found.recipients)} recipients ({added} added); "
              "running it again adds the rest", file=sys.stderr)
        raise failure
    print(f"postmanctl: {added} added, {done - added} already on the list ({scope}; {counted})", file=sys.stderr)
    return 0


# --- the command ------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Runs one action; every failure becomes one line on stderr: 2 for bad input, 1 when the service fails.
    The action calls campaign as postmanctl (its certificate in GRPC_TLS_DIR/postmanctl/), which may manage the list."""
    try:
        with client.acting_as(load_identity(settings, "postmanctl")):
            return int(args.action(args, settings))
    except Refused as exc:
        print(f"postmanctl: {exc}", file=sys.stderr)
        return 2
    except Unreachable as exc:
        print(f"postmanctl: the campaign service at {settings.campaign_addr} cannot be reached: {exc}",
              file=sys.stderr)
        return 1
    except ServiceError as exc:
        if exc.code == ErrorCode.SERVICE_UNAVAILABLE:
            print(f"postmanctl: the campaign service at {settings.campaign_addr} cannot be reached: {exc.message}",
                  file=sys.stderr)
            return 1
        if exc.code == ErrorCode.INTERNAL_SERVER:
            print(f"postmanctl: the campaign service at {settings.campaign_addr} failed: {exc.message}",
                  file=sys.stderr)
            return 1
        print(f"postmanctl: {exc.message}", file=sys.stderr)
        return 2
    finally:
        client.close_all()


def _whole_number(low: int, high: int | None = None) -> Any:
    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < low or (high is not None and int(text) > high):
            limits = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise argparse.ArgumentTypeError(f"expected a whole number {limits}, got {text!r}")
        return int(text)
    return parse


def _detail(text: str) -> str:
    if len(text) > MAX_DETAIL:
        raise argparse.ArgumentTypeError(f"at most {MAX_DETAIL} characters")
    return text


USAGE = {
    "list": "postmanctl suppression list [--channel EMAIL|SMS|TELEGRAM] [--recipient R] [--reason REASON] "
            "[--owner EMAIL] [--limit N] [--offset N] [--json]",
    "add": "postmanctl suppression add RECIPIENT [--channel EMAIL|SMS|TELEGRAM] [--reason REASON] [--owner EMAIL] "
           "[--detail TEXT]",
    "remove": "postmanctl suppression remove (ID | --channel EMAIL|SMS|TELEGRAM --recipient R [--owner EMAIL])",
    "import": "postmanctl suppression import FILE [--channel EMAIL|SMS|TELEGRAM] [--reason REASON] [--owner EMAIL] "
              "[--detail TEXT] [--dry-run]",
}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("suppression", help="the suppression list: who must not receive messages",
                                 description="\n".join(USAGE.values()),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action_name", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = actions.add_parser(name, help=help_text, usage=USAGE[name],
                                                          prog=f"postmanctl suppression {name}")
        return sub

    def channel(sub: argparse.ArgumentParser, default: str | None) -> None:
        sub.add_argument("--channel", type=str.upper, choices=CHANNELS, default=default, metavar="EMAIL|SMS|TELEGRAM",
                         help=f"default {default}" if default else "only this channel")

    def reason(sub: argparse.ArgumentParser, default: str | None) -> None:
        sub.add_argument("--reason", choices=REASONS, default=default, metavar="REASON",
                         help=f"{f'default {default}' if default else 'only this reason'}: {', '.join(REASONS)}")

    def owner(sub: argparse.ArgumentParser, help_text: str) -> None:
        sub.add_argument("--owner", metavar="EMAIL", help=help_text)

    listing = action("list", "every entry, newest first (support's view)")
    channel(listing, None)
    listing.add_argument("--recipient", metavar="R", help="only this recipient")
    reason(listing, None)
    owner(listing, "what this officer sees on their suppression page")
    listing.add_argument("--limit", type=_whole_number(1, MAX_LIST), default=50, metavar="N",
                         help=f"at most N entries, 1 to {MAX_LIST} (default 50)")
    listing.add_argument("--offset", type=_whole_number(0), default=0, metavar="N", help="skip the first N")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=run, action=_list)

    add = action("add", "suppress a recipient for every agency, or for one owner")
    add.add_argument("recipient", metavar="RECIPIENT")
    channel(add, "EMAIL")
    reason(add, SuppressionReason.MANUAL.value)
    owner(add, "this officer's entry (default: global, every agency)")
    add.add_argument("--detail", type=_detail, default="", metavar="TEXT", help="a note kept with the entry")
    add.set_defaults(run=run, action=_add)

    remove = action("remove", "lift an entry: by id, or by channel and recipient")
    remove.add_argument("entry_id", nargs="?", type=_whole_number(1), metavar="ID")
    channel(remove, None)
    remove.add_argument("--recipient", metavar="R")
    owner(remove, "the entry of this officer (default: the global entry)")
    remove.set_defaults(run=run, action=_remove)

    importing = action("import", "add every recipient of a CSV file (first column), or none")
    importing.add_argument("file", type=Path, metavar="FILE")
    channel(importing, "EMAIL")
    reason(importing, SuppressionReason.MANUAL.value)
    owner(importing, "this officer's entries (default: global, every agency)")
    importing.add_argument("--detail", type=_detail, default="", metavar="TEXT", help="a note kept with each entry")
    importing.add_argument("--dry-run", action="store_true", help="check the file and count, add nothing")
    importing.set_defaults(run=run, action=_import)

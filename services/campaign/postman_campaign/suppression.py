"""The suppression list: who must not receive messages, screened by the senders once per batch.

An entry is global (``user_id`` 0) or one owner's. Hard bounces and complaints are global: an address that does not
exist does not exist for anyone, and a complaint against one agency's email is a risk to every agency's sending
reputation. Unsubscribes and SMS STOPs are the owner's: the recipient asked not to hear from that sender. Officers'
own entries are theirs; support staff may add either kind (``postmanctl suppression``).

Screening is one indexed query per batch (``uq_suppressions_channel_recipient_user_id``): the batch's recipients,
their owners and the global scope. A global entry wins over an owner's (the message is BLACKLISTED, whatever else);
an owner's unsubscribe or STOP makes it UNSUBSCRIBED. With ``UNSUBSCRIBE_SCOPE=off`` (a platform for mandatory
notices) email unsubscribes are recorded and reported but do not stop later campaigns. A transactional email is
screened against the global entries only.

What an officer sees is what affects their campaigns and nothing of another agency's: their own entries, and the
global entries their own campaigns caused; the global entry of one address they look up is shown without where it
came from. They may lift what they see, except a global entry another agency's campaign caused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from postman_campaign.metrics import SUPPRESSIONS
from postman_campaign.models import Campaign, Suppression
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, NotFound
from postman_shared.outcomes import SUPPRESSED_AS, SuppressionReason
from postman_shared.validators import is_valid_email, normalise_email, normalise_phone

GLOBAL = 0
CHANNELS = ("EMAIL", "SMS", "TELEGRAM")
REASONS = tuple(r.value for r in SuppressionReason)
MAX_DETAIL = 1000
MAX_LIST = 1000
DEFAULT_LIST = 50
# Owner entries that only stop email campaigns while UNSUBSCRIBE_SCOPE=owner.
_SCOPED_REASONS = (SuppressionReason.UNSUBSCRIBE,)


@dataclass(frozen=True)
class Entry:
    """An entry to add: ``user_id`` 0 for a global one."""

    channel: str
    recipient: str
    user_id: int
    reason: str
    detail: str = ""
    source_campaign_id: int | None = None
    source_message_id: str | None = None
    created_by: str = "support"


@dataclass(frozen=True)
class Screened:
    user_id: int
    recipient: str
    outcome: str  # BLACKLISTED | UNSUBSCRIBED
    reason: str
    since: datetime


@dataclass(frozen=True)
class Listed:
    entry: Suppression
    can_lift: bool
    show_source: bool  # False: a global entry another agency caused, shown to an officer who looked it up


def normalise(channel: str, recipient: str, phone_region: str = "SG") -> str:
    """The recipient as the list stores it (a lower-cased address, an E.164 number); InvalidArgument when it is not
    one of the channel's recipients."""
    channel = channel.strip().upper()
    if channel not in CHANNELS:
        raise InvalidArgument(f"channel must be one of {', '.join(CHANNELS)}, not {channel[:20]!r}")
    if channel == "EMAIL":
        address = normalise_email(recipient)
        if not is_valid_email(address):
            raise InvalidArgument(f"{recipient.strip()[:80]!r} is not a valid email address",
                                  code=ErrorCode.INVALID_RECIPIENT)
        return address
    number = normalise_phone(recipient, phone_region)
    if number is None:
        raise InvalidArgument(f"{recipient.strip()[:40]!r} is not a valid phone number",
                              code=ErrorCode.INVALID_RECIPIENT)
    return number


def screen(session: Session, channel: str, items: Iterable[tuple[int, str]], transactional: bool = False,
           unsubscribes_suppress: bool = True) -> list[Screened]:
    """The items (owner, recipient) that must not be sent to, with the status their message is recorded with."""
    wanted = set(items)
    if not wanted:
        return []
    owners = {GLOBAL} if transactional else {GLOBAL, *(owner for owner, _ in wanted)}
    rows = session.execute(
        select(Suppression.recipient, Suppression.user_id, Suppression.reason, Suppression.created_at)
        .where(Suppression.channel == channel, Suppression.recipient.in_({r for _, r in wanted}),
               Suppression.user_id.in_(owners))
    ).all()
    found: dict[tuple[int, str], tuple[str, datetime]] = {}
    global_entries: dict[str, tuple[str, datetime]] = {}
    for recipient, user_id, reason, created_at in rows:
        if user_id == GLOBAL:
            global_entries[recipient] = (reason, created_at)
        elif not (channel == "EMAIL" and reason in _SCOPED_REASONS and not unsubscribes_suppress):
            found[(user_id, recipient)] = (reason, created_at)
    screened = []
    for owner, recipient in sorted(wanted):
        hit = global_entries.get(recipient) or found.get((owner, recipient))
        if hit is not None:
            reason, since = hit
            screened.append(Screened(owner, recipient, SUPPRESSED_AS[reason], reason, since))
    return screened


def add(session: Session, entries: Sequence[Entry], phone_region: str = "SG") -> int:
    """Adds the entries that are not there yet (an entry already there keeps its first reason); returns how many."""
    rows = []
    for entry in entries:
        if entry.reason not in REASONS:
            raise InvalidArgument(f"reason must be one of {', '.join(REASONS)}, not {entry.reason[:40]!r}")
        if entry.user_id < 0:
            raise InvalidArgument("user_id must be 0 (global) or an owner's id")
        rows.append({"channel": entry.channel.strip().upper(),
                     "recipient": normalise(entry.channel, entry.recipient, phone_region),
                     "user_id": entry.user_id, "reason": entry.reason, "detail": entry.detail[:MAX_DETAIL],
                     "source_campaign_id": entry.source_campaign_id or None,
                     "source_message_id": (entry.source_message_id or "")[:255] or None,
                     "created_by": entry.created_by[:64] or "support"})
    if not rows:
        return 0
    # Sorted: two writers adding overlapping entries take their locks in the same order.
    rows.sort(key=lambda row: (row["channel"], row["recipient"], row["user_id"]))
    statement = insert(Suppression).on_conflict_do_nothing(
        index_elements=["channel", "recipient", "user_id"]).returning(Suppression.channel, Suppression.reason)
    added = session.execute(statement, rows).all()
    for channel, reason in added:
        SUPPRESSIONS.labels(channel=channel, reason=reason).inc()
    return len(added)


def _own_campaigns(user_id: int) -> ColumnElement[bool]:
    return exists().where(Campaign.id == Suppression.source_campaign_id, Campaign.user_id == user_id)


def _visible_to(user_id: int, recipient: str) -> ColumnElement[bool]:
    """An officer's entries, the global entries their campaigns caused, and the global entry of the one recipient
    they look up."""
    conditions = [Suppression.user_id == user_id,
                  and_(Suppression.user_id == GLOBAL, _own_campaigns(user_id))]
    if recipient:
        conditions.append(and_(Suppression.user_id == GLOBAL, Suppression.recipient == recipient))
    return or_(*conditions)


def list_entries(session: Session, user_id: int, channel: str = "", recipient: str = "", reason: str = "",
                 limit: int = DEFAULT_LIST, offset: int = 0, phone_region: str = "SG") -> tuple[list[Listed], int]:
    """A page of the entries ``user_id`` may see (0: support, every entry), newest first, and how many in all."""
    if not 0 <= limit <= MAX_LIST or offset < 0:
        raise InvalidArgument(f"limit must be 1 to {MAX_LIST} and offset at least 0", code=ErrorCode.API_VALIDATION)
    conditions = []
    if channel:
        channel = channel.strip().upper()
        if channel not in CHANNELS:
            raise InvalidArgument(f"channel must be one of {', '.join(CHANNELS)}")
        conditions.append(Suppression.channel == channel)
    if recipient:
        recipient = normalise(channel or ("EMAIL" if "@" in recipient else "SMS"), recipient, phone_region)
        conditions.append(Suppression.recipient == recipient)
    if reason:
        if reason not in REASONS:
            raise InvalidArgument(f"reason must be one of {', '.join(REASONS)}")
        conditions.append(Suppression.reason == reason)
    if user_id != GLOBAL:
        conditions.append(_visible_to(user_id, recipient))
    total = session.scalar(select(func.count()).select_from(Suppression).where(*conditions)) or 0
    entries = session.scalars(select(Suppression).where(*conditions)
                              .order_by(Suppression.created_at.desc(), Suppression.id.desc())
                              .limit(limit or DEFAULT_LIST).offset(offset)).all()
    own_sources = _owned_campaign_ids(session, user_id, {e.source_campaign_id for e in entries
                                                         if e.source_campaign_id})
    return [_listed(entry, user_id, own_sources) for entry in entries], int(total)


def _owned_campaign_ids(session: Session, user_id: int, campaign_ids: set[int]) -> set[int]:
    if user_id == GLOBAL or not campaign_ids:
        return set(campaign_ids)
    return set(session.scalars(select(Campaign.id).where(Campaign.id.in_(campaign_ids),
                                                         Campaign.user_id == user_id)))


def _listed(entry: Suppression, user_id: int, own_sources: set[int]) -> Listed:
    if user_id == GLOBAL:
        return Listed(entry, can_lift=True, show_source=True)
    own = entry.user_id == user_id or (entry.source_campaign_id is not None and entry.source_campaign_id
                                       in own_sources)
    return Listed(entry, can_lift=own, show_source=own)


def lift(session: Session, entry_id: int, user_id: int) -> Suppression:
    """Removes one entry: support (``user_id`` 0) any, an officer only one they may lift; NotFound otherwise."""
    entry = session.get(Suppression, entry_id, with_for_update=True)
    if entry is None:
        raise NotFound("Suppression")
    if user_id != GLOBAL:
        own = entry.user_id == user_id or (
            entry.user_id == GLOBAL and entry.source_campaign_id is not None
            and session.scalar(select(Campaign.user_id).where(Campaign.id == entry.source_campaign_id)) == user_id)
        if not own:
            raise NotFound("Suppression")
    session.execute(delete(Suppression).where(Suppression.id == entry_id))
    return entry



# --- use cases (SuppressionService): each opens its own transaction; the functions above are their steps ---


def screen_recipients(database: Database, channel: str, items: Iterable[tuple[int, str]],
                      transactional: bool = False, unsubscribes_suppress: bool = True) -> list[Screened]:
    """ScreenRecipients: ``screen`` in a read-only session."""
    with database.session() as session:
        return screen(session, channel, items, transactional, unsubscribes_suppress)


def suppress(database: Database, entries: Sequence[Entry], phone_region: str = "SG") -> int:
    """AddSuppressions: ``add`` in a transaction of its own; how many entries were new."""
    with database.unit_of_work() as session:
        return add(session, entries, phone_region)


def entries_page(database: Database, user_id: int, channel: str = "", recipient: str = "", reason: str = "",
                 limit: int = DEFAULT_LIST, offset: int = 0,
                 phone_region: str = "SG") -> tuple[list[Listed], int]:
    """ListSuppressions: ``list_entries`` in a read-only session, the rows detached so they can be read after it
    ends (its rollback would expire them)."""
    with database.session() as session:
        page = list_entries(session, user_id, channel, recipient, reason, limit, offset, phone_region)
        session.expunge_all()
        return page


def lift_entry(database: Database, entry_id: int, user_id: int) -> Suppression:
    """LiftSuppression: ``lift`` in a transaction of its own; the entry as it was."""
    with database.unit_of_work() as session:
        return lift(session, entry_id, user_id)

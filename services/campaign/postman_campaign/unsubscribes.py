"""Recipients who unsubscribe from an owner's email campaigns through a campaign's link.

The gateway has checked the link's signature; here the campaign must exist and be an email campaign. An unsubscribe
is one row per campaign and recipient (what the campaign's export shows: ``unsubscriber.recipient`` and ``.reason``)
and, in the same transaction, an entry of the owner's suppression list (reason ``unsubscribe``), so the owner's later
email campaigns skip the address (unless ``UNSUBSCRIBE_SCOPE=off``). Unsubscribing twice keeps the first record (a
reason given later is added to one that had none). Resubscribing (the page's undo, upstream's ``DELETE``) withdraws
the recipient's unsubscribes from that owner and the suppression entry: they hear from the owner again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr

from sqlalchemy import delete, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from postman_campaign import suppression
from postman_campaign.metrics import UNSUBSCRIBES
from postman_campaign.models import Campaign, EmailTemplate, Suppression, Unsubscribe
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, NotFound
from postman_shared.outcomes import SuppressionReason
from postman_shared.validators import normalise_email

MAX_REASON = 500
VIA = ("page", "one-click", "api", "mailto")
STREAM_BATCH = 2000


@dataclass(frozen=True)
class UnsubscribeView:
    campaign_id: int
    recipient: str
    unsubscribed: bool
    reason: str = ""
    created_at: datetime | None = None
    created: bool = False
    sender_name: str = ""
    suppresses: bool = True


def _email_campaign(session: Session, campaign_id: int) -> tuple[Campaign, str]:
    """The email campaign and who its emails say they are from; NotFound for anything else."""
    row = session.execute(select(Campaign, EmailTemplate.from_address)
                          .join(EmailTemplate, EmailTemplate.campaign_id == Campaign.id, isouter=True)
                          .where(Campaign.id == campaign_id)).one_or_none()
    if row is None or row[0].type != "EMAIL":
        raise NotFound("Campaign")
    campaign, from_address = row
    name, address = parseaddr(from_address or "")
    return campaign, name or address


def _checked(recipient: str, reason: str = "", via: str = "page") -> tuple[str, str]:
    address = normalise_email(recipient)
    if not address or len(address) > 320:
        raise InvalidArgument("recipient must be the email address the link was sent to",
                              code=ErrorCode.INVALID_RECIPIENT)
    if len(reason) > MAX_REASON:
        raise InvalidArgument(f"reason must be at most {MAX_REASON} characters", code=ErrorCode.API_VALIDATION)
    if via not in VIA:
        raise InvalidArgument(f"via must be one of {', '.join(VIA)}")
    return address, " ".join(reason.split())


def state(database: Database, campaign_id: int, recipient: str, suppresses: bool = True) -> UnsubscribeView:
    address, _ = _checked(recipient)
    with database.session() as session:
        _campaign, sender_name = _email_campaign(session, campaign_id)
        row = session.execute(select(Unsubscribe.reason, Unsubscribe.created_at).where(
            Unsubscribe.campaign_id == campaign_id, Unsubscribe.recipient == address)).one_or_none()
    if row is None:
        return UnsubscribeView(campaign_id, address, False, sender_name=sender_name, suppresses=suppresses)
    return UnsubscribeView(campaign_id, address, True, row.reason, row.created_at, sender_name=sender_name,
                           suppresses=suppresses)


def unsubscribe(database: Database, campaign_id: int, recipient: str, reason: str = "", via: str = "page",
                suppresses: bool = True) -> UnsubscribeView:
    """Records the unsubscribe and suppresses the address for the campaign's owner, in one transaction."""
    address, reason = _checked(recipient, reason, via)
    with database.unit_of_work() as session:
        campaign, sender_name = _email_campaign(session, campaign_id)
        upsert = insert(Unsubscribe).values(campaign_id=campaign_id, user_id=campaign.user_id, recipient=address,
                                            reason=reason, via=via)
        row = session.execute(upsert.on_conflict_do_update(
            index_elements=["campaign_id", "recipient"],
            # A reason given later completes a record that had none; nothing else changes.
            set_={"reason": func.coalesce(func.nullif(Unsubscribe.reason, ""), upsert.excluded.reason)},
        # xmax is 0 on a row this statement inserted, not on one it updated.
        ).returning(Unsubscribe.reason, Unsubscribe.created_at, literal_column("xmax = 0").label("created"))).one()
        suppression.add(session, [suppression.Entry(
            "EMAIL", address, campaign.user_id, SuppressionReason.UNSUBSCRIBE, detail=reason,
            source_campaign_id=campaign_id, created_by=f"unsubscribe-{via}")])
    if row.created:
        UNSUBSCRIBES.labels(via=via).inc()
    return UnsubscribeView(campaign_id, address, True, row.reason, row.created_at, created=bool(row.created),
                           sender_name=sender_name, suppresses=suppresses)


def resubscribe(database: Database, campaign_id: int, recipient: str, suppresses: bool = True) -> UnsubscribeView:
    """Withdraws the recipient's unsubscribes from the campaign's owner and their suppression entry."""
    address, _ = _checked(recipient)
    with database.unit_of_work() as session:
        campaign, sender_name = _email_campaign(session, campaign_id)
        session.execute(delete(Unsubscribe).where(Unsubscribe.user_id == campaign.user_id,
                                                  Unsubscribe.recipient == address))
        session.execute(delete(Suppression).where(
            Suppression.channel == "EMAIL", Suppression.recipient == address, Suppression.user_id == campaign.user_id,
            Suppression.reason == SuppressionReason.UNSUBSCRIBE))
    return UnsubscribeView(campaign_id, address, False, sender_name=sender_name, suppresses=suppresses)


def stream(database: Database, campaign_id: int, batch_size: int = STREAM_BATCH) -> Iterator[list[UnsubscribeView]]:
    """The campaign's unsubscribes in batches (keyset paging: one short query each)."""
    after = 0
    while True:
        with database.session() as session:
            rows = session.execute(select(Unsubscribe.id, Unsubscribe.recipient, Unsubscribe.reason,
                                          Unsubscribe.created_at)
                                   .where(Unsubscribe.campaign_id == campaign_id, Unsubscribe.id > after)
                                   .order_by(Unsubscribe.id).limit(batch_size)).all()
        if rows:
            yield [UnsubscribeView(campaign_id, r.recipient, True, r.reason, r.created_at) for r in rows]
            after = rows[-1].id
        if len(rows) < batch_size:
            return

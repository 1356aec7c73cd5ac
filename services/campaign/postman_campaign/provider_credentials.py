"""Stored provider credentials (Twilio accounts, Telegram bots), kept sealed. Campaign never opens them: a sender
checks a new credential with a real test message, seals it and hands it here (``store_sealed``); senders fetch it
sealed (``get_sealed_credential``) and open it themselves.

A credential is its owner's alone: every user-facing call names the user, and another user's credential is reported
as not found. A label (``^[a-z0-9-]{1,50}$``) names a credential for reuse and is unique per user and channel; an
unlabelled credential is only assigned to the campaign it was added for.

When the master key changes, ``rotate`` (``postmanctl rotate-credentials-key``) re-wraps every credential under the
current one; it opens only the wrapping of the data key, never a credential itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from postman_campaign.campaigns import CampaignView, ensure_not_sent, owned_campaign, views_of
from postman_campaign.models import Campaign, Credential
from postman_shared.credentials import Sealer, SealError, check_credential_label, credential_aad
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, NotFound
from postman_shared.logging import get_logger
from postman_shared.timestamps import utcnow

CREDENTIAL_CHANNELS = ("SMS", "TELEGRAM")
NAMES = {"SMS": "Twilio credential", "TELEGRAM": "Telegram bot"}
ROTATION_BATCH_SIZE = 200  # credentials re-wrapped per transaction

log = get_logger(component="credentials")


@dataclass(frozen=True)
class SealedCredential:
    id: int
    user_id: int
    channel: str
    sealed: bytes

    def __repr__(self) -> str:  # the sealed bytes are not secret, but they are not worth a log line either
        return f"SealedCredential(id={self.id}, user_id={self.user_id}, channel={self.channel!r})"


@dataclass(frozen=True)
class CredentialInfo:
    """What may be shown about a credential: never its content."""

    id: int
    user_id: int
    channel: str
    label: str
    description: str
    created_at: datetime


def _info(row: Credential) -> CredentialInfo:
    return CredentialInfo(id=row.id, user_id=row.user_id, channel=row.channel, label=row.label or "",
                          description=row.description or "", created_at=row.created_at)


def check_channel(channel: str) -> str:
    channel = channel.strip().upper()
    if channel not in CREDENTIAL_CHANNELS:
        raise InvalidArgument(f"channel must be one of {', '.join(CREDENTIAL_CHANNELS)}")
    return channel


def get_sealed_credential(database: Database, credential_id: int) -> SealedCredential:
    """The credential row as stored (sealed); NotFound when there is none with this id."""
    with database.session() as session:
        row = session.get(Credential, credential_id)
        if row is None:
            raise NotFound("Credential")
        return SealedCredential(id=row.id, user_id=row.user_id, channel=row.channel, sealed=bytes(row.sealed))


def store_sealed(database: Database, user_id: int, channel: str, label: str, sealed: bytes, key_id: str,
                 description: str, campaign_id: int = 0) -> CredentialInfo:
    """Stores a credential a sender has checked and sealed, and assigns it to ``campaign_id`` when set, in one
    transaction: a campaign that cannot take it (not the user's, another channel, already sent) stores nothing."""
    channel = check_channel(channel)
    if label:
        check_credential_label(label)
    if not sealed or not key_id:
        raise InvalidArgument("sealed and key_id are required")
    try:
        with database.unit_of_work() as session:
            campaign = _assignable_campaign(session, campaign_id, user_id, channel) if campaign_id else None
            if label and session.scalar(select(Credential.id).where(
                    Credential.user_id == user_id, Credential.channel == channel, Credential.label == label)):
                raise _label_taken(channel, label)
            row = Credential(user_id=user_id, channel=channel, label=label or None, sealed=sealed, key_id=key_id,
                             description=description[:255], updated_at=utcnow())
            session.add(row)
            session.flush()
            session.refresh(row)
            if campaign is not None:
                campaign.credential_id = row.id
                campaign.updated_at = utcnow()
            info = _info(row)
    except IntegrityError:  # the same label stored by a concurrent request
        raise _label_taken(channel, label) from None
    log.info("credential stored", credential_id=info.id, user_id=user_id, channel=channel, label=label,
             campaign_id=campaign_id or None)
    return info


def _label_taken(channel: str, label: str) -> InvalidArgument:
    return InvalidArgument(f"You already have a {NAMES[channel]} labelled {label!r}; choose another label, or use "
                           "the saved one", code=ErrorCode.INVALID_CREDENTIAL_LABEL)


def find_credential(database: Database, user_id: int, channel: str, label: str) -> CredentialInfo:
    channel = check_channel(channel)
    with database.session() as session:
        row = session.scalars(select(Credential).where(
            Credential.user_id == user_id, Credential.channel == channel, Credential.label == label)).one_or_none()
        if row is None:
            raise InvalidArgument(f"You have no saved {NAMES[channel]} labelled {label[:60]!r}",
                                  code=ErrorCode.INVALID_CREDENTIAL_LABEL)
        return _info(row)


def list_credentials(database: Database, user_id: int, channel: str = "") -> list[CredentialInfo]:
    """The user's saved (labelled) credentials, newest first."""
    query = select(Credential).where(Credential.user_id == user_id, Credential.label.is_not(None))
    if channel:
        query = query.where(Credential.channel == check_channel(channel))
    with database.session() as session:
        return [_info(row) for row in session.scalars(query.order_by(Credential.id.desc()))]


def assign_credential(database: Database, campaign_id: int, user_id: int, credential_id: int) -> CampaignView:
    with database.unit_of_work() as session:
        row = session.get(Credential, credential_id)
        if row is None or row.user_id != user_id:
            raise NotFound("Credential")
        campaign = _assignable_campaign(session, campaign_id, user_id, row.channel)
        campaign.credential_id = row.id
        campaign.updated_at = utcnow()
        view = views_of(session, [campaign])[0]
    log.info("credential assigned", credential_id=credential_id, campaign_id=campaign_id)
    return view


def delete_credential(database: Database, user_id: int, credential_id: int) -> CredentialInfo:
    """Removes the credential; campaigns that used it are left without one (they cannot send until given one)."""
    with database.unit_of_work() as session:
        row = session.get(Credential, credential_id)
        if row is None or row.user_id != user_id:
            raise NotFound("Credential")
        info = _info(row)
        session.delete(row)
    log.info("credential deleted", credential_id=credential_id, user_id=user_id)
    return info


def _assignable_campaign(session: Session, campaign_id: int, user_id: int, channel: str) -> Campaign:
    campaign = owned_campaign(session, campaign_id, user_id, lock=True)
    if campaign.type != channel:
        raise InvalidArgument(f"Campaign {campaign.id} is an {campaign.type} campaign; a {NAMES[channel]} cannot be "
                              "used for it")
    ensure_not_sent(session, campaign_id)
    return campaign


# --- the master key's rotation ----------------------------------------------------------------------------------


@dataclass
class Rotation:
    rewrapped: int = 0
    remaining: int = 0  # rows still wrapped by another key: unopenable ones and ones locked by someone else
    unopenable: list[tuple[int, str]] = field(default_factory=list)  # (credential id, reason)


def rotate(database: Database, sealer: Sealer, batch_size: int = ROTATION_BATCH_SIZE) -> Rotation:
    """Re-wraps, batch by batch (one transaction each), every credential not wrapped by the current master key.

    Rows locked by another transaction are skipped (SKIP LOCKED) and counted as remaining; running it again finishes
    them. A value no configured key opens is reported and left as it is.
    """
    table = Credential.metadata.tables[Credential.__tablename__]  # Core: one UPDATE for a batch of rows
    credentials = table.c
    rotation = Rotation()
    after_id = 0
    while True:
        with database.unit_of_work() as session:
            rows = session.execute(
                select(credentials.id, credentials.user_id, credentials.channel, credentials.sealed)
                .where(credentials.key_id != sealer.key_id, credentials.id > after_id)
                .order_by(credentials.id)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                break
            changes = []
            for row in rows:
                try:
                    sealed = sealer.rewrap(bytes(row.sealed), credential_aad(row.user_id, row.channel))
                except SealError as exc:
                    rotation.unopenable.append((row.id, str(exc)))
                    continue
                changes.append({"credential_id": row.id, "sealed": sealed})
            if changes:
                session.execute(
                    update(table).where(credentials.id == bindparam("credential_id"))
                    .values(sealed=bindparam("sealed"), key_id=sealer.key_id, updated_at=utcnow()),
                    changes)
            rotation.rewrapped += len(changes)
            after_id = rows[-1].id
    with database.session() as session:
        rotation.remaining = session.scalar(
            select(func.count()).select_from(table).where(credentials.key_id != sealer.key_id)) or 0
    return rotation

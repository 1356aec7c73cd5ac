"""Managing campaigns as a whole: renaming, deleting a draft, duplicating.

Deleting is for drafts only: once a campaign has a job (sent, sending or scheduled) its recipients and outcomes are
a record of what was sent. The campaign row is locked ``FOR UPDATE`` first, which waits for an upload worker or a
send holding it, so nothing is added to a campaign while it is being deleted. Recipients have no foreign key (bulk
COPY stays cheap) and are deleted explicitly; templates, uploads and jobs go with the campaign (ON DELETE CASCADE).
"""

from __future__ import annotations

from sqlalchemy import delete, select

from postman_campaign.campaigns import (
    MAX_NAME_LENGTH,
    CampaignView,
    ensure_channel,
    get_campaign,
    latest_job,
    owned_campaign,
    views_of,
)
from postman_campaign.models import Campaign, EmailTemplate, Recipient, SmsTemplate, TelegramTemplate, Upload
from postman_campaign.previews import template_of
from postman_campaign.statuses import JobStatus
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, NotFound, ServiceError
from postman_shared.logging import get_logger
from postman_shared.object_store import LocalObjectStore, ObjectStore, part_key
from postman_shared.timestamps import utcnow

COPY_PREFIX = "Copy of "

log = get_logger(component="management")


def checked_name(name: str) -> str:
    """A campaign name, trimmed; a clear error when it is empty or too long."""
    name = name.strip()
    if not name:
        raise InvalidArgument("name is not allowed to be empty", code=ErrorCode.API_VALIDATION)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"name must be at most {MAX_NAME_LENGTH} characters", code=ErrorCode.API_VALIDATION)
    return name


def update_campaign(database: Database, campaign_id: int, user_id: int, name: str | None) -> CampaignView:
    """Renames the campaign (a sent one too: the name is only a label); ``None`` leaves it as it is."""
    with database.unit_of_work() as session:
        campaign = owned_campaign(session, campaign_id, user_id, lock=True)
        if name is not None:
            campaign.name = checked_name(name)
            campaign.updated_at = utcnow()
            session.flush()
            log.info("campaign renamed", campaign_id=campaign_id)
        return views_of(session, [campaign])[0]


def delete_campaign(database: Database, campaign_id: int, user_id: int, store: ObjectStore | None = None) -> None:
    """Deletes a draft with its template, uploads and recipients; a campaign with a job is ``already_sent``. The
    files of its uploads go from ``store`` after the commit (a processed one is already gone; one uploaded but never
    completed, or a protected upload's parts, would otherwise stay until the sweeper or the bucket's rule)."""
    with database.unit_of_work() as session:
        campaign = session.scalars(select(Campaign).where(Campaign.id == campaign_id, Campaign.user_id == user_id)
                                   .with_for_update()).one_or_none()
        if campaign is None:
            raise NotFound("Campaign")
        latest = latest_job(session, campaign_id)
        if latest is not None:
            if latest.status == JobStatus.READY:
                raise ServiceError(ErrorCode.ALREADY_SENT, "This campaign is scheduled to be sent; cancel the "
                                   "scheduled send (POST /campaigns/{id}/cancel) before deleting it")
            raise ServiceError(ErrorCode.ALREADY_SENT, "This campaign has been sent; a sent campaign cannot be deleted")
        recipients = session.execute(delete(Recipient).where(Recipient.campaign_id == campaign_id)).rowcount
        files = session.execute(select(Upload.object_key, Upload.part_count)
                                .where(Upload.campaign_id == campaign_id)).all()
        session.execute(delete(Campaign).where(Campaign.id == campaign_id))
    if store is not None:
        for key, part_count in files:
            keys = [key, *(part_key(key, n) for n in range(1, (part_count or 0) + 1))] \
                if isinstance(store, LocalObjectStore) else [key]  # S3: the bucket's rule aborts parts
            for each in keys:
                try:
                    store.delete(each)
                except Exception as exc:  # noqa: BLE001 - the sweeper (local) or the bucket's rule gets it
                    log.warning("could not delete a deleted draft's upload", campaign_id=campaign_id,
                                object_key=each, error=str(exc))
    log.info("campaign deleted", campaign_id=campaign_id, recipient_count=recipients, files=len(files))


def duplicate_campaign(database: Database, campaign_id: int, user_id: int, name: str,
                       channel: str = "") -> CampaignView:
    """A new draft with the campaign's channel and a copy of its template; no recipients, no credential.
    An empty ``name`` is "Copy of <name>"."""
    with database.unit_of_work() as session:
        source = owned_campaign(session, campaign_id, user_id)
        if channel:
            ensure_channel(source, channel)
        new_name = checked_name(name) if name.strip() else (COPY_PREFIX + source.name)[:MAX_NAME_LENGTH]
        copy = Campaign(user_id=user_id, name=new_name, type=source.type, protect=source.protect, recipient_keys=[],
                        test=source.test)
        session.add(copy)
        session.flush()
        template = template_of(session, source)
        if template is not None:
            session.add(_copied_template(template, copy.id))
        session.flush()
        session.refresh(copy)  # server defaults: created_at, counts
        copy_id = copy.id
    log.info("campaign duplicated", campaign_id=campaign_id, copy_id=copy_id)
    with database.unit_of_work() as session:  # not session(): its rollback would expire what is returned
        return get_campaign(session, copy_id, user_id)


def _copied_template(template: EmailTemplate | SmsTemplate | TelegramTemplate,
                     campaign_id: int) -> EmailTemplate | SmsTemplate | TelegramTemplate:
    model = type(template)
    columns = [c.key for c in model.__table__.columns if c.key not in ("campaign_id", "updated_at")]
    values = {key: getattr(template, key) for key in columns}
    if "params" in values:
        values["params"] = list(values["params"] or ())
    return model(campaign_id=campaign_id, **values)



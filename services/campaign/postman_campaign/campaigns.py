"""Campaigns: creating them, reading them with their jobs and template, and the ownership rule.

Every user-facing use case starts with ``owned_campaign``: a campaign of another user is reported exactly like a
campaign that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from postman_campaign.models import Campaign, EmailTemplate, Job, SmsTemplate, TelegramTemplate, Upload
from postman_campaign.statuses import JobStatus, UploadStatus
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, NotFound, ServiceError

CHANNELS = ("EMAIL", "SMS", "TELEGRAM")
SUPPORTED_CHANNELS = CHANNELS
MAX_NAME_LENGTH = 255
AnyTemplate = EmailTemplate | SmsTemplate | TelegramTemplate
TEMPLATE_MODELS: dict[str, type[EmailTemplate] | type[SmsTemplate] | type[TelegramTemplate]] = {
    "EMAIL": EmailTemplate, "SMS": SmsTemplate, "TELEGRAM": TelegramTemplate}


@dataclass(frozen=True)
class CampaignView:
    """A campaign with what its API representation needs."""

    campaign: Campaign
    jobs: list[Job]
    template: AnyTemplate | None  # the one of the campaign's channel
    is_csv_processing: bool

    @property
    def missing_keys(self) -> list[str]:
        """Template keys that the committed recipient list has no column for."""
        if self.template is None:
            return []
        columns = set(self.campaign.recipient_keys or ())
        return [key for key in self.template.params or () if key not in columns]

    @property
    def valid(self) -> bool:
        """Ready to send: a template, at least one valid recipient, and a column for every template key."""
        c = self.campaign
        return self.template is not None and c.num_recipients - c.num_invalid > 0 and not self.missing_keys


def owned_campaign(session: Session, campaign_id: int, user_id: int, lock: bool = False) -> Campaign:
    """The campaign if ``user_id`` owns it, else NotFound. ``lock`` serialises writers of the same campaign."""
    query = select(Campaign).where(Campaign.id == campaign_id, Campaign.user_id == user_id)
    if lock:
        # NO KEY UPDATE, not UPDATE: inserting uploads or jobs (a foreign-key share lock) must not wait on it.
        query = query.with_for_update(key_share=True)
    campaign = session.scalars(query).one_or_none()
    if campaign is None:
        raise NotFound("Campaign")
    return campaign


def ensure_channel(campaign: Campaign, channel: str) -> None:
    """Refuses a call of one channel (``/email/...``) on a campaign of another, naming the campaign's channel."""
    if campaign.type != channel:
        raise InvalidArgument(f"Campaign {campaign.id} is an {campaign.type} campaign, not an {channel} campaign; "
                              f"use its {campaign.type.lower()} endpoints")


def latest_job(session: Session, campaign_id: int, lock: bool = False) -> Job | None:
    """The campaign's newest job (its current send), locked ``FOR UPDATE`` when asked; None when never sent."""
    query = select(Job).where(Job.campaign_id == campaign_id).order_by(Job.id.desc()).limit(1)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def has_job(session: Session, campaign_id: int) -> bool:
    return bool(session.scalar(select(exists().where(Job.campaign_id == campaign_id))))


def ensure_not_sent(session: Session, campaign_id: int) -> None:
    """Refuses a change to a campaign that has a job: sent, sending, or scheduled (READY) until cancelled."""
    latest = session.scalar(select(Job.status).where(Job.campaign_id == campaign_id).order_by(Job.id.desc()).limit(1))
    if latest == JobStatus.READY:
        raise ServiceError(ErrorCode.ALREADY_SENT, "This campaign is scheduled to be sent; cancel the scheduled send "
                                                   "(POST /campaigns/{id}/cancel) to change it")
    if latest is not None:
        raise ServiceError(ErrorCode.ALREADY_SENT, "This campaign has already been sent")


def create_campaign(session: Session, user_id: int, name: str, channel: str, protect: bool = False,
                    test: bool = False) -> CampaignView:
    name = name.strip()
    if not name:
        raise InvalidArgument("name is required", code=ErrorCode.API_VALIDATION)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"name must be at most {MAX_NAME_LENGTH} characters", code=ErrorCode.API_VALIDATION)
    channel = channel.strip().upper()
    if channel not in CHANNELS:
        raise InvalidArgument(f"type must be one of {', '.join(CHANNELS)}", code=ErrorCode.API_VALIDATION)
    if channel not in SUPPORTED_CHANNELS:
        supported = " and ".join(SUPPORTED_CHANNELS)
        raise InvalidArgument(f"{channel} campaigns are not supported yet; only {supported} campaigns can be created")
    if protect and channel != "EMAIL":
        raise InvalidArgument("Only email campaigns can be password-protected", code=ErrorCode.API_VALIDATION)
    campaign = Campaign(user_id=user_id, name=name, type=channel, protect=protect, recipient_keys=[], test=test)
    session.add(campaign)
    session.flush()
    session.refresh(campaign)  # server defaults: created_at, counts
    return CampaignView(campaign=campaign, jobs=[], template=None, is_csv_processing=False)


def get_campaign(session: Session, campaign_id: int, user_id: int) -> CampaignView:
    return views_of(session, [owned_campaign(session, campaign_id, user_id)])[0]



def new_campaign(database: Database, user_id: int, name: str, channel: str, protect: bool = False,
                 test: bool = False) -> CampaignView:
    """CreateCampaign: ``create_campaign`` in a transaction of its own."""
    with database.unit_of_work() as session:
        return create_campaign(session, user_id, name, channel, protect, test=test)


def find_campaign(database: Database, campaign_id: int, user_id: int) -> CampaignView:
    """GetCampaign: the user's campaign (``get_campaign``), its rows detached so they can be read after the read-only
    session ends (its rollback would expire them)."""
    with database.session() as session:
        view = get_campaign(session, campaign_id, user_id)
        session.expunge_all()
        return view


def views_of(session: Session, campaigns: Sequence[Campaign]) -> list[CampaignView]:
    """Views of several campaigns with three queries in all, not three per campaign."""
    ids = [c.id for c in campaigns]
    if not ids:
        return []
    jobs: dict[int, list[Job]] = {}
    for job in session.scalars(select(Job).where(Job.campaign_id.in_(ids)).order_by(Job.id)):
        jobs.setdefault(job.campaign_id, []).append(job)
    templates: dict[int, AnyTemplate] = {}
    for channel, model in TEMPLATE_MODELS.items():
        channel_ids = [c.id for c in campaigns if c.type == channel]
        if channel_ids:
            templates.update((t.campaign_id, t) for t in session.scalars(
                select(model).where(model.campaign_id.in_(channel_ids))))
    processing = set(session.scalars(select(Upload.campaign_id).where(
        Upload.campaign_id.in_(ids), Upload.status == UploadStatus.PROCESSING)))
    return [
        CampaignView(campaign=c, jobs=jobs.get(c.id, []), template=templates.get(c.id),
                     is_csv_processing=c.id in processing)
        for c in campaigns
    ]

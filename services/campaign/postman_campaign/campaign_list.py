"""ListCampaigns: the filters, paging and sorting of ``GET /campaigns``.

A campaign's status is derived from its latest job: no job is Draft; a READY job (a send scheduled for later) is
Scheduled; a latest job that is SENT or LOGGED is Sent; any other job is Sending. ``sent_at`` sorting uses the
latest job's ``sent_at`` (campaigns never sent come last).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, func, select, true
from sqlalchemy.orm import Session

from postman_campaign.campaigns import CHANNELS, CampaignView, views_of
from postman_campaign.models import Campaign, Job
from postman_campaign.statuses import DONE, CampaignStatus, JobStatus
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument

STATUSES = tuple(CampaignStatus)
SORT_COLUMNS = ("created_at", "sent_at")
DEFAULT_LIMIT = 10
MAX_LIMIT = 100


@dataclass(frozen=True)
class CampaignQuery:
    user_id: int
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    channel: str = ""
    status: str = ""
    name: str = ""
    sort_by: str = "created_at"
    order_by: str = "DESC"

    @classmethod
    def checked(cls, user_id: int, limit: int = 0, offset: int = 0, channel: str = "", status: str = "",
                name: str = "", sort_by: str = "", order_by: str = "") -> "CampaignQuery":
        """A query from raw request values (empty or zero means the default); clear errors for bad ones."""
        limit = limit or DEFAULT_LIMIT
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}", code=ErrorCode.API_VALIDATION)
        if offset < 0:
            raise InvalidArgument("offset must be 0 or more", code=ErrorCode.API_VALIDATION)
        channel = channel.upper()
        if channel and channel not in CHANNELS:
            raise InvalidArgument(f"type must be one of {', '.join(CHANNELS)}", code=ErrorCode.API_VALIDATION)
        status = status.capitalize()
        if status and status not in STATUSES:
            raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}", code=ErrorCode.API_VALIDATION)
        sort_by = sort_by or "created_at"
        if sort_by not in SORT_COLUMNS:
            raise InvalidArgument(f"sort_by must be one of {', '.join(SORT_COLUMNS)}", code=ErrorCode.API_VALIDATION)
        order_by = (order_by or "DESC").upper()
        if order_by not in ("ASC", "DESC"):
            raise InvalidArgument("order_by must be ASC or DESC", code=ErrorCode.API_VALIDATION)
        return cls(user_id=user_id, limit=limit, offset=offset, channel=channel, status=status, name=name,
                   sort_by=sort_by, order_by=order_by)


def list_campaigns(session: Session, query: CampaignQuery) -> tuple[list[CampaignView], int]:
    """One page of the user's campaigns and how many match in all."""
    latest = (
        select(Job.status.label("status"), Job.sent_at.label("sent_at"))
        .where(Job.campaign_id == Campaign.id)
        .order_by(Job.id.desc())
        .limit(1)
        .lateral("latest_job")
    )
    base: Select = select(Campaign).outerjoin(latest, true()).where(Campaign.user_id == query.user_id)
    if query.channel:
        base = base.where(Campaign.type == query.channel)
    if query.name:
        escaped = query.name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        base = base.where(Campaign.name.ilike(f"%{escaped}%", escape="\\"))
    if query.status == CampaignStatus.DRAFT:
        base = base.where(latest.c.status.is_(None))
    elif query.status == CampaignStatus.SENT:
        base = base.where(latest.c.status.in_(DONE))
    elif query.status == CampaignStatus.SENDING:
        base = base.where(and_(latest.c.status.is_not(None), latest.c.status.not_in((*DONE, JobStatus.READY))))
    elif query.status == CampaignStatus.SCHEDULED:
        base = base.where(latest.c.status == JobStatus.READY)

    total = session.scalar(select(func.count()).select_from(base.with_only_columns(Campaign.id).subquery())) or 0
    column = Campaign.created_at if query.sort_by == "created_at" else latest.c.sent_at
    ordered = column.asc().nulls_last() if query.order_by == "ASC" else column.desc().nulls_last()
    tie_break = Campaign.id.asc() if query.order_by == "ASC" else Campaign.id.desc()
    page = session.scalars(base.order_by(ordered, tie_break).limit(query.limit).offset(query.offset)).all()
    return views_of(session, page), int(total)


def campaigns_page(database: Database, query: CampaignQuery) -> tuple[list[CampaignView], int]:
    """ListCampaigns: ``list_campaigns`` in a read-only session, the rows detached so they can be read after it ends
    (its rollback would expire them)."""
    with database.session() as session:
        page = list_campaigns(session, query)
        session.expunge_all()
        return page


__all__ = ["CampaignQuery", "campaigns_page", "list_campaigns"]

"""The pictures' numbers: a campaign's messages by outcome over time, and a user's messages per day.

``message_outcomes`` keeps one row per message with its current status and when it last moved (``updated_at``: when
the sender's event was recorded, or when a receipt moved it). So a picture counts each message once, in the outcome
it is in now, at the moment it reached it: a message delivered at 10:02 is a delivered message from 10:02 on, not a
sent one before. Both queries read the campaign's rows through ``ix_message_outcomes_campaign_id`` and count them
in PostgreSQL; only the buckets' counts leave the database.

The owner is checked before anything is read: the campaign's by asking campaign for it with the user (``not_found``
for another user's), the overview's by taking the campaigns from campaign's list of the user's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import bindparam, text

from postman.v1 import campaign_pb2, stats_pb2
from postman_shared.db import Database
from postman_shared.grpc.errors import InvalidArgument
from postman_shared.outcomes import NOT_SENT, MessageStatus
from postman_shared.timestamps import to_timestamp

# The picture's five outcomes and the statuses each is made of.
OUTCOME_OF: Mapping[MessageStatus, str] = {
    MessageStatus.SENT: "sent",  # handed to the provider, no receipt yet
    MessageStatus.DELIVERED: "delivered",
    MessageStatus.OPENED: "delivered",
    MessageStatus.ERROR: "failed",
    MessageStatus.SOFT_BOUNCED: "bounced",
    MessageStatus.BOUNCED: "bounced",
    MessageStatus.COMPLAINT: "bounced",
    MessageStatus.UNSUBSCRIBED: "unsubscribed",  # not sent: unsubscribed, or the address is on the suppression list
    MessageStatus.BLACKLISTED: "unsubscribed",
}
DEFAULT_BUCKETS, MAX_BUCKETS = 60, 200
DEFAULT_DAYS, MAX_DAYS = 30, 90
# Bucket widths a reader can take in at a glance (seconds): the narrowest that fits the campaign in the buckets.
NICE_WIDTHS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
# The overview asks campaign for the user's campaigns latest sent first, this many at a time, at most MAX_PAGES.
CAMPAIGN_PAGE, MAX_PAGES = 100, 20

_SPAN = text("SELECT min(updated_at) AS first, max(updated_at) AS last FROM message_outcomes "
             "WHERE campaign_id = :campaign_id")
_BY_BUCKET = text(
    "SELECT floor((extract(epoch FROM updated_at) - :start) / :width)::bigint AS bucket, status, count(*) AS n "
    "FROM message_outcomes WHERE campaign_id = :campaign_id AND updated_at <= :last GROUP BY 1, 2")
_BY_DAY = text(
    "SELECT (updated_at AT TIME ZONE :zone)::date AS day, count(*) AS n FROM message_outcomes "
    "WHERE campaign_id IN :campaign_ids AND updated_at >= :since AND status NOT IN :not_sent GROUP BY 1"
).bindparams(bindparam("campaign_ids", expanding=True), bindparam("not_sent", expanding=True))


def bucket_width(first: datetime, last: datetime, buckets: int) -> int:
    """The narrowest nice width (seconds) that fits ``first`` .. ``last`` in ``buckets`` buckets aligned on it."""
    for width in NICE_WIDTHS:
        if _bucket_count(first, last, width) <= buckets:
            return width
    days = 2
    while _bucket_count(first, last, days * 86400) > buckets:
        days += 1
    return days * 86400


def _bucket_count(first: datetime, last: datetime, width: int) -> int:
    return int(last.timestamp() // width) - int(first.timestamp() // width) + 1


def campaign_timeline(database: Database, campaign: campaign_pb2.Campaign,
                      buckets: int = 0) -> stats_pb2.CampaignTimeline:
    """The campaign's messages by outcome, counted by when they reached it, in at most ``buckets`` buckets (the
    caller fetched the campaign from campaign with the user, which checked the owner)."""
    buckets = buckets or DEFAULT_BUCKETS
    if not 1 <= buckets <= MAX_BUCKETS:
        raise InvalidArgument(f"buckets must be between 1 and {MAX_BUCKETS}")
    with database.session() as session:
        span = session.execute(_SPAN, {"campaign_id": campaign.id}).one()
        if span.first is None:
            return stats_pb2.CampaignTimeline()
        width = bucket_width(span.first, span.last, buckets)
        start = int(span.first.timestamp() // width) * width
        rows = session.execute(_BY_BUCKET, {"campaign_id": campaign.id, "start": start, "width": width,
                                            "last": span.last}).all()
    count = _bucket_count(span.first, span.last, width)
    return stats_pb2.CampaignTimeline(bucket_seconds=width, buckets=_timeline_buckets(start, width, count, rows))


def _timeline_buckets(start: int, width: int, count: int,
                      rows: Iterable[tuple[int, str, int]]) -> list[stats_pb2.TimelineBucket]:
    counts = [dict.fromkeys(("sent", "delivered", "failed", "bounced", "unsubscribed"), 0) for _ in range(count)]
    for bucket, status, number in rows:
        outcome = OUTCOME_OF.get(MessageStatus(status))
        if outcome is not None and 0 <= bucket < count:
            counts[bucket][outcome] += number
    return [stats_pb2.TimelineBucket(start=to_timestamp(datetime.fromtimestamp(start + index * width, timezone.utc)),
                                     **by_outcome) for index, by_outcome in enumerate(counts)]


@dataclass(frozen=True)
class OverviewWindow:
    """The days the overview covers, in the reader's time zone, and the moment the first of them began."""

    zone: str
    days: list[date]
    since: datetime

    @classmethod
    def ending(cls, now: datetime, days: int = 0, zone: str = "") -> "OverviewWindow":
        days = days or DEFAULT_DAYS
        if not 1 <= days <= MAX_DAYS:
            raise InvalidArgument(f"days must be between 1 and {MAX_DAYS}")
        zone = zone or "UTC"
        try:
            where = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidArgument(f"time_zone {zone!r} is not a time zone name such as Asia/Singapore") from None
        today = now.astimezone(where).date()
        first = today - timedelta(days=days - 1)
        return cls(zone=zone, days=[first + timedelta(days=n) for n in range(days)],
                   since=datetime.combine(first, time(0), where))


def campaigns_sent_since(pages: Iterable[campaign_pb2.ListCampaignsResponse], since: datetime) -> list[int]:
    """The ids of the campaigns whose latest job was sent at or after ``since``, from pages of the user's campaigns
    latest sent first (campaigns never sent come last): reading stops at the first one sent before."""
    found: list[int] = []
    for page in pages:
        for campaign in page.campaigns:
            latest = max(campaign.jobs, key=lambda job: job.id, default=None)
            if latest is None or not latest.HasField("sent_at") or latest.sent_at.ToDatetime(timezone.utc) < since:
                return found
            found.append(campaign.id)
        if len(page.campaigns) < CAMPAIGN_PAGE:
            break
    return found


def sending_overview(database: Database, window: OverviewWindow, campaign_ids: list[int]) -> stats_pb2.SendingOverview:
    """The messages sent each day of the window, delivered or failed (not the unsubscribed or suppressed ones, which
    were never tried), from the given campaigns (the user's own, from campaign)."""
    per_day: dict[date, int] = {}
    if campaign_ids:
        with database.session() as session:
            rows = session.execute(_BY_DAY, {"zone": window.zone, "campaign_ids": campaign_ids,
                                             "since": window.since, "not_sent": sorted(NOT_SENT)}).all()
        per_day = {row.day: row.n for row in rows}
    return stats_pb2.SendingOverview(days=[stats_pb2.DayCount(day=day.isoformat(), messages=per_day.get(day, 0))
                                           for day in window.days])


__all__ = ["OUTCOME_OF", "OverviewWindow", "bucket_width", "campaign_timeline", "campaigns_sent_since",
           "sending_overview"]

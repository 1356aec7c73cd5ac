"""A campaign's statistics: recipients and invalid rows from campaign, the outcomes from the counters.

``unsent = recipients - invalid rows - sent - error - invalid recipients - unsubscribed``, so Postman's counters
(``invalid`` being the file's invalid rows plus the bounced, complained and blacklisted recipients) always add up to
the recipients.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timezone
from typing import Any

from sqlalchemy import select

from postman.v1 import campaign_pb2, common_pb2, stats_pb2
from postman_shared.campaign_statuses import JobStatus
from postman_shared.db import Database
from postman_shared.grpc.errors import InvalidArgument
from postman_shared.timestamps import to_timestamp
from postman_stats.models import CampaignCounter

# The counters of the statistics and their details, as campaign_counters names them.
_DETAILS = ("delivered", "opened", "hard_bounced", "soft_bounced", "complained", "blacklisted")


def outcome_counts(counter: Mapping[str, Any] | None) -> common_pb2.OutcomeCounts:
    """A counter row's outcomes (``recipients``, ``unsent`` and the file's invalid rows are campaign's to add)."""
    if counter is None:
        return common_pb2.OutcomeCounts()
    return common_pb2.OutcomeCounts(sent=counter["sent"], error=counter["error"],
                                    invalid=counter["invalid_recipients"], unsubscribed=counter["unsubscribed"],
                                    **{name: counter[name] for name in _DETAILS})


def campaign_stats(database: Database, campaign: campaign_pb2.Campaign) -> stats_pb2.CampaignStats:
    """The statistics of a campaign the caller has already fetched from campaign (which checked its owner)."""
    with database.session() as session:
        counter = session.execute(select(CampaignCounter.__table__).where(
            CampaignCounter.campaign_id == campaign.id)).mappings().one_or_none()
    counts = outcome_counts(counter)
    counted_at = counter["updated_at"] if counter else None
    latest = max(campaign.jobs, key=lambda job: job.id, default=None)
    stats = stats_pb2.CampaignStats(
        unsent=max(0, campaign.num_recipients - campaign.num_invalid - counts.sent - counts.error - counts.invalid
                   - counts.unsubscribed),
        sent=counts.sent,
        error=counts.error,
        invalid=campaign.num_invalid + counts.invalid,
        unsubscribed=counts.unsubscribed,
        status=latest.status if latest is not None else JobStatus.READY,
        halted=campaign.halted,
        redacted=campaign.redacted,
        invalid_rows=campaign.num_invalid,
        **{name: getattr(counts, name) for name in _DETAILS},
    )
    moments = [counted_at] if counted_at is not None else []
    if latest is not None and latest.HasField("status_updated_at"):
        moments.append(latest.status_updated_at.ToDatetime(tzinfo=timezone.utc))
    updated_at = max(moments, default=None)
    if updated_at is not None:
        stats.updated_at.CopyFrom(to_timestamp(updated_at))
    elif campaign.HasField("created_at"):
        stats.updated_at.CopyFrom(campaign.created_at)
    return stats


MAX_COUNTER_IDS = 100  # a page of the campaign list holds at most this many campaigns


def campaign_counters(database: Database, campaign_ids: list[int]) -> list[stats_pb2.CampaignCounters]:
    """The counters of several campaigns in one query (a page of the campaign list: no N+1).
    The caller got the ids from campaign for their owner; a campaign never sent has no counters and is left out."""
    if not campaign_ids:
        return []
    if len(campaign_ids) > MAX_COUNTER_IDS:
        raise InvalidArgument(f"at most {MAX_COUNTER_IDS} campaigns at a time")
    with database.session() as session:
        rows = session.execute(
            select(CampaignCounter.campaign_id, CampaignCounter.sent, CampaignCounter.error,
                   CampaignCounter.invalid_recipients, CampaignCounter.unsubscribed, CampaignCounter.delivered,
                   CampaignCounter.opened)
            .where(CampaignCounter.campaign_id.in_(set(campaign_ids)))
        ).all()
    return [stats_pb2.CampaignCounters(campaign_id=row.campaign_id, sent=row.sent, error=row.error,
                                       invalid_recipients=row.invalid_recipients, unsubscribed=row.unsubscribed,
                                       delivered=row.delivered + row.opened) for row in rows]

"""The pictures' numbers without a database: the width of a timeline's buckets, the overview's days in the reader's
zone, and which of the user's campaigns the overview reads."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from postman.v1 import campaign_pb2
from postman_shared.grpc.errors import InvalidArgument
from postman_shared.outcomes import MessageStatus
from postman_shared.timestamps import to_timestamp
from postman_stats import timelines

T0 = datetime(2026, 12, 1, 1, 30, 17, tzinfo=timezone.utc)


@pytest.mark.parametrize(("span", "buckets", "width"), [
    (timedelta(0), 60, 1),
    (timedelta(seconds=50), 60, 1),
    (timedelta(minutes=10), 10, 120),  # 1:30:17 to 1:40:17 touches 11 minutes: 2-minute buckets
    (timedelta(minutes=10), 60, 15),
    (timedelta(hours=3), 60, 300),
    (timedelta(days=3), 60, 7200),
    (timedelta(days=100), 60, 2 * 86400),
])
def test_buckets_are_the_narrowest_nice_width_that_fits(span, buckets, width):
    assert timelines.bucket_width(T0, T0 + span, buckets) == width
    count = int((T0 + span).timestamp() // width) - int(T0.timestamp() // width) + 1
    assert count <= buckets


def test_every_status_is_in_one_of_the_five_outcomes():
    assert set(timelines.OUTCOME_OF) == set(MessageStatus)
    assert set(timelines.OUTCOME_OF.values()) == {"sent", "delivered", "failed", "bounced", "unsubscribed"}


def test_the_overview_ends_today_in_the_readers_zone():
    late_evening_utc = datetime(2026, 12, 5, 17, 0, tzinfo=timezone.utc)  # already 6 December in Singapore
    window = timelines.OverviewWindow.ending(late_evening_utc, 30, "Asia/Singapore")
    assert (window.days[0].isoformat(), window.days[-1].isoformat(), len(window.days)) == \
        ("2026-11-07", "2026-12-06", 30)
    assert window.since == datetime(2026, 11, 6, 16, 0, tzinfo=timezone.utc)
    assert timelines.OverviewWindow.ending(late_evening_utc).days[-1].isoformat() == "2026-12-05"  # UTC, 30 days


@pytest.mark.parametrize(("days", "zone"), [(91, "UTC"), (-1, "UTC"), (30, "Mars/Olympus"), (30, "../etc")])
def test_a_bad_window_is_refused_in_words(days, zone):
    with pytest.raises(InvalidArgument):
        timelines.OverviewWindow.ending(T0, days, zone)


def _campaign(campaign_id: int, sent_at: datetime | None) -> campaign_pb2.Campaign:
    job = campaign_pb2.Job(id=campaign_id * 10)
    if sent_at is not None:
        job.sent_at.CopyFrom(to_timestamp(sent_at))
    return campaign_pb2.Campaign(id=campaign_id, jobs=[job])


def test_the_overview_reads_the_campaigns_sent_since_its_first_day_and_stops_at_the_first_older_one():
    since = T0 - timedelta(days=30)
    page = campaign_pb2.ListCampaignsResponse(campaigns=[
        _campaign(1, T0), _campaign(2, since + timedelta(seconds=1)), _campaign(3, since - timedelta(seconds=1)),
        _campaign(4, T0)])
    read: list[int] = []

    def pages():
        read.append(1)
        yield page
        read.append(2)
        yield campaign_pb2.ListCampaignsResponse(campaigns=[_campaign(5, T0)])

    assert timelines.campaigns_sent_since(pages(), since) == [1, 2]
    assert read == [1]  # the next page was never asked for
    never_sent = campaign_pb2.ListCampaignsResponse(campaigns=[_campaign(6, T0), campaign_pb2.Campaign(id=7)])
    assert timelines.campaigns_sent_since([never_sent], since) == [6]

"""The pictures' numbers from the stats service with the real campaign service: a campaign's outcomes over time (its
owner only) and a user's messages per day over the last days (their own campaigns only)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from postman.v1 import stats_pb2, stats_pb2_grpc
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError
from tests.integration.stats.support import wait_until
from tests.support import service_identity
from tests.support.inprocess import running


def _stub(settings) -> stats_pb2_grpc.StatsServiceStub:
    return service_identity.stub(settings.stats_addr, stats_pb2_grpc.StatsServiceStub)


def _recorded(database, campaign_id: int) -> int:
    with database.session() as session:
        return session.execute(text("SELECT count(*) FROM message_outcomes WHERE campaign_id = :c"),
                               {"c": campaign_id}).scalar_one()


def _move(database, campaign_id: int, recipient_id: int, at: datetime, status: str | None = None) -> None:
    """Sets when (and to what) a message's outcome moved, as a receipt at that moment would have."""
    with database.unit_of_work() as session:
        session.execute(text("UPDATE message_outcomes SET updated_at = :at, status = coalesce(:status, status) "
                             "WHERE campaign_id = :c AND recipient_id = :r"),
                        {"at": at, "status": status, "c": campaign_id, "r": recipient_id})


def _sent_at(database, job_id: int, at: datetime) -> None:
    with database.unit_of_work() as session:
        session.execute(text("UPDATE jobs SET sent_at = :at WHERE id = :j"), {"at": at, "j": job_id})


def test_the_timeline_counts_each_message_in_its_outcome_when_it_reached_it(
        settings, database, amqp_channel, make_campaign, publish_events):
    campaign = make_campaign(valid=5, job_status="SENT")
    with running(settings, "campaign", "stats"):
        publish_events([campaign.sent(0), campaign.sent(1), campaign.sent(2), campaign.error(3), campaign.sent(4)])
        wait_until(lambda: _recorded(database, campaign.id) == 5, what="five outcomes recorded")
        start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
        ids = [recipient_id for recipient_id, _ in campaign.valid]
        _move(database, campaign.id, ids[0], start)
        _move(database, campaign.id, ids[1], start + timedelta(seconds=30), "DELIVERED")
        _move(database, campaign.id, ids[2], start + timedelta(minutes=4), "BOUNCED")
        _move(database, campaign.id, ids[3], start + timedelta(minutes=4, seconds=10))
        _move(database, campaign.id, ids[4], start + timedelta(minutes=9, seconds=59), "UNSUBSCRIBED")
        timeline = client.call(_stub(settings).GetCampaignTimeline, stats_pb2.CampaignTimelineRequest(
            campaign_id=campaign.id, user_id=campaign.user_id, buckets=10))

    assert timeline.bucket_seconds == 60
    assert len(timeline.buckets) == 10
    assert timeline.buckets[0].start.ToDatetime(timezone.utc) == start
    counted = [(b.sent, b.delivered, b.failed, b.bounced, b.unsubscribed) for b in timeline.buckets]
    assert counted[0] == (1, 1, 0, 0, 0)
    assert counted[4] == (0, 0, 1, 1, 0)
    assert counted[9] == (0, 0, 0, 0, 1)
    assert sum(sum(row) for row in counted) == 5


def test_a_campaign_with_nothing_recorded_has_an_empty_timeline(settings, make_campaign):
    campaign = make_campaign(valid=2, job_status="SENDING")
    with running(settings, "campaign", "stats"):
        timeline = client.call(_stub(settings).GetCampaignTimeline, stats_pb2.CampaignTimelineRequest(
            campaign_id=campaign.id, user_id=campaign.user_id))

    assert timeline.bucket_seconds == 0 and not timeline.buckets


def test_another_users_campaign_timeline_is_refused(settings, make_campaign):
    campaign = make_campaign(valid=1)
    with running(settings, "campaign", "stats"):
        with pytest.raises(ServiceError) as refused:
            client.call(_stub(settings).GetCampaignTimeline, stats_pb2.CampaignTimelineRequest(
                campaign_id=campaign.id, user_id=campaign.user_id + 1))
        with pytest.raises(ServiceError) as too_many:
            client.call(_stub(settings).GetCampaignTimeline, stats_pb2.CampaignTimelineRequest(
                campaign_id=campaign.id, user_id=campaign.user_id, buckets=1000))

    assert refused.value.code == "not_found"
    assert too_many.value.code == "invalid_parameters"


def test_the_overview_counts_the_users_own_messages_sent_each_day(
        settings, database, amqp_channel, make_campaign, publish_events):
    mine = make_campaign(valid=4, job_status="SENT")
    also_mine_but_old = make_campaign(valid=1, job_status="SENT", user_id=mine.user_id)
    theirs = make_campaign(valid=2, job_status="SENT")
    with running(settings, "campaign", "stats"):
        publish_events([mine.sent(0), mine.sent(1), mine.sent(2), mine.sent(3), also_mine_but_old.sent(0),
                        theirs.sent(0), theirs.sent(1)])
        wait_until(lambda: _recorded(database, mine.id) + _recorded(database, also_mine_but_old.id)
                   + _recorded(database, theirs.id) == 7, what="seven outcomes recorded")
        now = datetime.now(timezone.utc)
        for rows, at in ((mine, now), (also_mine_but_old, now - timedelta(days=45)), (theirs, now)):
            _sent_at(database, rows.job_id, at)
        ids = [recipient_id for recipient_id, _ in mine.valid]
        _move(database, mine.id, ids[0], now - timedelta(days=2))
        _move(database, mine.id, ids[3], now, "UNSUBSCRIBED")  # never sent: not counted
        _move(database, also_mine_but_old.id, also_mine_but_old.valid[0][0], now - timedelta(days=45))
        overview = client.call(_stub(settings).GetSendingOverview, stats_pb2.SendingOverviewRequest(
            user_id=mine.user_id, time_zone="Asia/Singapore"))
        with pytest.raises(ServiceError) as bad_zone:
            client.call(_stub(settings).GetSendingOverview, stats_pb2.SendingOverviewRequest(
                user_id=mine.user_id, time_zone="Mars/Olympus"))

    assert len(overview.days) == 30
    assert [day.messages for day in overview.days][-3:] == [1, 0, 2]
    assert sum(day.messages for day in overview.days) == 3  # not theirs, not 45 days ago, not the unsubscribed
    singapore_today = (now + timedelta(hours=8)).date().isoformat()
    assert overview.days[-1].day == singapore_today
    assert bad_zone.value.code == "invalid_parameters"

"""Stats' side of a retry and of refresh-stats: errors move back to unsent in one step (the counters add up at every
moment), the retry's outcomes are recorded and finish its job, late events of the first job change nothing, and a
recount restores counters from the outcomes."""

from __future__ import annotations

from sqlalchemy import text

from postman.v1 import stats_pb2, stats_pb2_grpc
from postman_campaign.models import Job
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError
from postman_shared.messages import DeliveryEvent, JobRendered
from postman_stats import retry_outcomes
from tests.integration.stats.support import wait_until
from tests.support import service_identity
from tests.support.inprocess import running


def _stub(settings) -> stats_pb2_grpc.StatsServiceStub:
    return service_identity.stub(settings.stats_addr, stats_pb2_grpc.StatsServiceStub)


def _stats(settings, campaign) -> stats_pb2.CampaignStats:
    return client.call(_stub(settings).GetCampaignStats,
                       stats_pb2.StatsRequest(campaign_id=campaign.id, user_id=campaign.user_id))


def _adds_up(stats, recipients: int) -> bool:
    return stats.unsent + stats.sent + stats.error + stats.invalid == recipients


def _outcomes(database, campaign_id: int) -> dict[int, str]:
    with database.session() as session:
        rows = session.execute(text("SELECT recipient_id, status FROM message_outcomes WHERE campaign_id = :c"),
                               {"c": campaign_id})
        return dict(rows.all())


def _job_status(database, job_id: int) -> str:
    with database.session() as session:
        return session.execute(text("SELECT status FROM jobs WHERE id = :j"), {"j": job_id}).scalar_one()


def _retry_job(database, campaign) -> int:
    with database.unit_of_work() as session:
        job = Job(campaign_id=campaign.id, status="SENDING", retry_of=campaign.job_id)
        session.add(job)
        session.flush()
        return job.id


def test_a_retry_moves_errors_back_to_unsent_and_its_outcomes_finish_the_retry_job(
        settings, database, amqp_channel, make_campaign, publish_events):
    campaign = make_campaign(valid=4, invalid=1, job_status="SENT")
    with running(settings, "campaign", "stats"):
        publish_events([campaign.rendered(), campaign.sent(0), campaign.error(1), campaign.error(2),
                        campaign.sent(3)])
        wait_until(lambda: _job_status(database, campaign.job_id) == "LOGGED", what="the first job LOGGED")
        first = _stats(settings, campaign)
        retry_job = _retry_job(database, campaign)

        reset = client.call(_stub(settings).StartRetry,
                            stats_pb2.StartRetryRequest(campaign_id=campaign.id, job_id=retry_job))
        again = client.call(_stub(settings).StartRetry,  # a renderer that restarted: nothing more to do
                            stats_pb2.StartRetryRequest(campaign_id=campaign.id, job_id=retry_job))
        started = _stats(settings, campaign)
        recorded = [list(batch.ids) for batch in _stub(settings).StreamRecordedRecipients(
            stats_pb2.RecordedRecipientsRequest(campaign_id=campaign.id), timeout=10)]

        retried = [DeliveryEvent(campaign.valid[1][0], campaign.id, retry_job, "SENT"),
                   DeliveryEvent(campaign.valid[2][0], campaign.id, retry_job, "ERROR", "smtp_550", "Still unknown")]
        publish_events([*retried, JobRendered(retry_job, campaign.id, 4)])
        wait_until(lambda: _job_status(database, retry_job) == "LOGGED", what="the retry job LOGGED")
        finished = _stats(settings, campaign)

    assert (first.sent, first.error, first.unsent, first.invalid) == (2, 2, 0, 1)
    assert (reset.reset, again.reset) == (2, 0)
    assert (started.sent, started.error, started.unsent) == (2, 0, 2) and _adds_up(started, 5)
    assert recorded == [sorted([campaign.valid[0][0], campaign.valid[3][0]])]
    assert (finished.sent, finished.error, finished.unsent, finished.status) == (3, 1, 0, "LOGGED")
    assert _outcomes(database, campaign.id)[campaign.valid[2][0]] == "ERROR"


def test_late_events_of_the_first_job_change_nothing_once_the_retry_started(
        settings, database, amqp_channel, make_campaign, publish_events):
    campaign = make_campaign(valid=3, job_status="SENT")
    with running(settings, "campaign", "stats"):
        publish_events([campaign.rendered(), campaign.sent(0), campaign.error(1), campaign.error(2)])
        wait_until(lambda: _job_status(database, campaign.job_id) == "LOGGED", what="the first job LOGGED")
        retry_job = _retry_job(database, campaign)
        retry_outcomes.start_retry(database, campaign.id, retry_job)

        # A redelivered error and JobRendered of the first job, then one event of the retry as a marker.
        publish_events([campaign.error(1), campaign.rendered(),
                        DeliveryEvent(campaign.valid[2][0], campaign.id, retry_job, "SENT")])
        wait_until(lambda: campaign.valid[2][0] in _outcomes(database, campaign.id), what="the retry's outcome")
        stats = _stats(settings, campaign)

    assert _outcomes(database, campaign.id) == {campaign.valid[0][0]: "SENT", campaign.valid[2][0]: "SENT"}
    assert (stats.sent, stats.error, stats.unsent, stats.status) == (2, 0, 1, "SENDING")
    with database.session() as session:
        job_id, expected = session.execute(
            text("SELECT job_id, expected FROM campaign_counters WHERE campaign_id = :c"), {"c": campaign.id}).one()
    assert (job_id, expected) == (retry_job, None)


def test_refresh_stats_recounts_the_counters_from_the_outcomes(
        settings, database, amqp_channel, make_campaign, publish_events):
    campaign = make_campaign(valid=3, job_status="SENT")
    with running(settings, "campaign", "stats"):
        publish_events([campaign.sent(0), campaign.error(1)])
        wait_until(lambda: len(_outcomes(database, campaign.id)) == 2, what="two outcomes")
        with database.unit_of_work() as session:  # counters drifted (e.g. restored from an older backup)
            session.execute(text("UPDATE campaign_counters SET sent = 7, error = 0 WHERE campaign_id = :c"),
                            {"c": campaign.id})
        drifted = _stats(settings, campaign)
        refreshed = client.call(_stub(settings).RefreshCampaignStats,
                                stats_pb2.StatsRequest(campaign_id=campaign.id, user_id=campaign.user_id))
        try:
            client.call(_stub(settings).RefreshCampaignStats,
                        stats_pb2.StatsRequest(campaign_id=campaign.id, user_id=campaign.user_id + 1))
            intruder = None
        except ServiceError as exc:
            intruder = exc.code
    assert (drifted.sent, drifted.error) == (7, 0)
    assert (refreshed.sent, refreshed.error, refreshed.unsent) == (1, 1, 1) and _adds_up(refreshed, 3)
    assert intruder == "not_found"

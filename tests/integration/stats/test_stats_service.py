"""The stats service in-process with the real campaign service: LOGGED transition, statistics, export."""

from __future__ import annotations

from dataclasses import replace

import grpc
import pytest
from sqlalchemy import text

from postman.v1 import campaign_pb2, campaign_pb2_grpc, stats_pb2, stats_pb2_grpc
from postman_shared.broker import OutgoingMessage, Publisher
from postman_shared.broker.topology import DEAD_LETTER_QUEUE, DELIVERY_EVENTS
from postman_shared.delivery_events import delivery_event_messages
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError, from_rpc_error
from postman_shared.messages import event_batch_bodies
from tests.integration.stats.support import wait_until
from tests.support import service_identity
from tests.support.inprocess import running


def _job_status(database, job_id: int) -> str:
    with database.session() as session:
        return session.execute(text("SELECT status FROM jobs WHERE id = :j"), {"j": job_id}).scalar_one()


def _counted(database, campaign_id: int) -> int:
    with database.session() as session:
        return session.execute(
            text("SELECT coalesce(sum(sent + error), 0) FROM campaign_counters WHERE campaign_id = :c"),
            {"c": campaign_id},
        ).scalar_one()


def _stats(settings, campaign_id: int, user_id: int) -> stats_pb2.CampaignStats:
    stub = service_identity.stub(settings.stats_addr, stats_pb2_grpc.StatsServiceStub)
    return client.call(stub.GetCampaignStats, stats_pb2.StatsRequest(campaign_id=campaign_id, user_id=user_id))


def _export(settings, campaign_id: int, user_id: int) -> list[stats_pb2.ExportRow]:
    stub = service_identity.stub(settings.stats_addr, stats_pb2_grpc.StatsServiceStub)
    try:
        batches = stub.ExportCampaign(stats_pb2.StatsRequest(campaign_id=campaign_id, user_id=user_id), timeout=30)
        return [row for batch in batches for row in batch.rows]
    except grpc.RpcError as exc:
        raise from_rpc_error(exc) from None


def test_the_job_becomes_logged_when_every_published_message_has_an_outcome(
        settings, database, amqp_channel, make_campaign, publish_events):
    campaign = make_campaign(valid=4, job_status="SENT")
    with running(settings, "campaign", "stats"):
        publish_events([campaign.rendered(), campaign.sent(0), campaign.sent(1), campaign.error(2)])
        wait_until(lambda: _counted(database, campaign.id) == 3, what="three outcomes counted")
        assert _job_status(database, campaign.job_id) == "SENT"

        publish_events([campaign.sent(3), campaign.sent(0)])  # the last one, and a redelivered one
        wait_until(lambda: _job_status(database, campaign.job_id) == "LOGGED", what="the job LOGGED")

    with database.session() as session:
        logged_at = session.execute(text("SELECT logged_at FROM campaign_counters WHERE campaign_id = :c"),
                                    {"c": campaign.id}).scalar_one()
    assert logged_at is not None
    assert _counted(database, campaign.id) == 4


def test_a_job_is_logged_before_the_renderer_reports_sent_and_stays_logged(
        settings, database, amqp_channel, make_campaign, publish_events):
    campaign = make_campaign(valid=2, job_status="SENDING")
    with running(settings, "campaign", "stats"):
        publish_events([campaign.sent(0), campaign.sent(1), campaign.rendered()])
        wait_until(lambda: _job_status(database, campaign.job_id) == "LOGGED", what="the job LOGGED")

        # What the renderer does once it has published everything: a late SENT must not undo LOGGED.
        jobs = service_identity.stub(settings.campaign_addr, campaign_pb2_grpc.CampaignServiceStub)
        client.call(jobs.SetJobStatus, campaign_pb2.SetJobStatusRequest(job_id=campaign.job_id, status="SENT"))
        assert _job_status(database, campaign.job_id) == "LOGGED"


def test_stats_count_sent_error_invalid_and_unsent_from_every_recipient(
        settings, database, amqp_channel, make_campaign, publish_events):
    campaign = make_campaign(valid=5, invalid=2, job_status="SENT")
    with running(settings, "campaign", "stats"):
        publish_events([campaign.sent(0), campaign.sent(1), campaign.error(2), campaign.sent(0)])
        wait_until(lambda: _counted(database, campaign.id) == 3, what="three outcomes counted")
        stats = _stats(settings, campaign.id, campaign.user_id)

    assert (stats.sent, stats.error, stats.invalid, stats.unsent, stats.unsubscribed) == (2, 1, 2, 2, 0)
    assert stats.unsent + stats.sent + stats.error + stats.invalid == 7
    assert stats.status == "SENT"
    assert stats.HasField("updated_at")
    assert not stats.halted and not stats.redacted


def test_counters_of_several_campaigns_come_in_one_call_and_a_campaign_never_sent_is_left_out(
        settings, database, amqp_channel, make_campaign, publish_events):
    first, second, never_sent = make_campaign(valid=3), make_campaign(valid=2), make_campaign(job_status=None)
    with running(settings, "campaign", "stats"):
        publish_events([first.sent(0), first.error(1), second.sent(0), second.sent(1)])
        wait_until(lambda: _counted(database, first.id) + _counted(database, second.id) == 4,
                   what="four outcomes counted")
        stub = service_identity.stub(settings.stats_addr, stats_pb2_grpc.StatsServiceStub)
        found = client.call(stub.GetCampaignCounters, stats_pb2.CampaignCountersRequest(
            campaign_ids=[first.id, second.id, never_sent.id]))
        with pytest.raises(ServiceError) as too_many:
            client.call(stub.GetCampaignCounters, stats_pb2.CampaignCountersRequest(campaign_ids=range(1, 102)))

    assert {c.campaign_id: (c.sent, c.error) for c in found.counters} == {first.id: (1, 1), second.id: (2, 0)}
    assert too_many.value.code == "invalid_parameters"


def test_a_campaign_never_sent_is_ready_with_every_valid_recipient_unsent(settings, make_campaign):
    campaign = make_campaign(valid=3, invalid=1, job_status=None)
    with running(settings, "campaign", "stats"):
        stats = _stats(settings, campaign.id, campaign.user_id)

    assert (stats.status, stats.unsent, stats.sent, stats.error, stats.invalid) == ("READY", 3, 0, 0, 1)


def test_another_users_campaign_is_not_found_for_stats_and_export(settings, make_campaign):
    campaign = make_campaign(valid=1)
    with running(settings, "campaign", "stats"):
        with pytest.raises(ServiceError) as stats_error:
            _stats(settings, campaign.id, campaign.user_id + 1)
        with pytest.raises(ServiceError) as export_error:
            _export(settings, campaign.id, campaign.user_id + 1)

    assert stats_error.value.code == "not_found"
    assert export_error.value.code == "not_found"


def test_export_lists_every_recipient_with_its_status(
        settings, database, amqp_channel, make_campaign, publish_events):
    campaign = make_campaign(valid=4, invalid=2, job_status="SENT")
    with running(settings, "campaign", "stats"):
        publish_events([campaign.sent(0), campaign.error(1, "smtp_550", "User unknown")])
        wait_until(lambda: _counted(database, campaign.id) == 2, what="two outcomes counted")
        rows = {row.recipient: row for row in _export(settings, campaign.id, campaign.user_id)}

    (sent_address, failed_address, *unsent) = [address for _, address in campaign.valid]
    assert len(rows) == 6
    assert (rows[sent_address].status, rows[sent_address].error_code) == ("SENT", "")
    assert rows[sent_address].HasField("updated_at")
    assert (rows[failed_address].status, rows[failed_address].error_code) == ("ERROR", "smtp_550")
    assert [rows[a].status for a in unsent] == ["UNSENT", "UNSENT"]
    assert [rows[a].status for _, a in campaign.invalid] == ["INVALID", "INVALID"]


def test_export_of_a_redacted_campaign_is_refused(settings, make_campaign):
    campaign = make_campaign(valid=1, redacted=True)
    with running(settings, "campaign", "stats"):
        with pytest.raises(ServiceError) as error:
            _export(settings, campaign.id, campaign.user_id)

    assert error.value.code == "campaign_redacted"


def test_a_malformed_event_is_dead_lettered_and_the_rest_of_its_batch_recorded(
        settings, stores, database, amqp_channel, make_campaign):
    amqp_channel.queue_purge(DEAD_LETTER_QUEUE)
    campaign = make_campaign(valid=1, job_status="SENT")
    publisher = Publisher(stores.amqp_url, app_id="test")
    try:
        publisher.publish([
            OutgoingMessage(DELIVERY_EVENTS, {"kind": "delivery", "recipient_id": "x"}, "broken-event"),
            OutgoingMessage(DELIVERY_EVENTS, {**campaign.sent(0).to_dict(), "status": "MAYBE"}, "odd-status"),
            OutgoingMessage(DELIVERY_EVENTS, campaign.sent(0).to_dict(), campaign.sent(0).message_id),
        ])
    finally:
        publisher.close()
    with running(replace(settings, stats_batch_size=10), "stats"):
        wait_until(lambda: _counted(database, campaign.id) == 1, what="the good event counted")
        wait_until(lambda: amqp_channel.queue_declare(DEAD_LETTER_QUEUE, passive=True).method.message_count == 2,
                   what="two malformed events dead-lettered")


def test_a_senders_batch_of_events_in_one_message_is_recorded_event_by_event(
        settings, stores, database, amqp_channel, make_campaign):
    campaign = make_campaign(valid=5, job_status="SENT")
    events = [campaign.sent(0), campaign.sent(1), campaign.error(2), campaign.sent(3), campaign.sent(4)]
    publisher = Publisher(stores.amqp_url, app_id="test")
    try:
        # Two senders' batches, one of them announced twice (a redelivered sender batch), and the job's total.
        publisher.publish(delivery_event_messages(events[:3]) + delivery_event_messages(events[3:])
                          + delivery_event_messages(events[:3])
                          + [OutgoingMessage(DELIVERY_EVENTS, campaign.rendered().to_dict(), "rendered")])
    finally:
        publisher.close()
    # Two events per transaction: the messages' five events span three.
    with running(replace(settings, stats_batch_size=2), "campaign", "stats"):
        wait_until(lambda: _job_status(database, campaign.job_id) == "LOGGED", what="the job logged")
        stats = _stats(settings, campaign.id, campaign.user_id)

    assert (stats.sent, stats.error, stats.unsent) == (4, 1, 0)
    assert _counted(database, campaign.id) == 5, "the repeated batch is not counted twice"


def test_a_batch_with_a_malformed_event_records_the_others_and_is_dead_lettered(
        settings, stores, database, amqp_channel, make_campaign):
    amqp_channel.queue_purge(DEAD_LETTER_QUEUE)
    campaign = make_campaign(valid=2, job_status="SENT")
    (message_id, body), = event_batch_bodies([campaign.sent(0), campaign.sent(1)])
    body["events"].insert(1, {**campaign.sent(1).to_dict(), "status": "MAYBE"})
    publisher = Publisher(stores.amqp_url, app_id="test")
    try:
        publisher.publish([OutgoingMessage(DELIVERY_EVENTS, body, message_id)])
    finally:
        publisher.close()
    with running(replace(settings, stats_batch_size=10), "stats"):
        wait_until(lambda: _counted(database, campaign.id) == 2, what="the good events counted")
        wait_until(lambda: amqp_channel.queue_declare(DEAD_LETTER_QUEUE, passive=True).method.message_count == 1,
                   what="the batch dead-lettered for a person to see")
    amqp_channel.queue_purge(DEAD_LETTER_QUEUE)

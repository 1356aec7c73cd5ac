"""Scheduled sending: a send with a future time waits READY without a SendJob; the scheduler releases it once, also
across a restart of the campaign service and with two replicas running; a cancel makes the campaign a draft."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from postman_campaign import models
from postman_campaign.models import Campaign, Job
from postman_campaign.scheduling import Scheduler
from postman_shared.broker.topology import CAMPAIGN_SEND
from postman_shared.grpc.errors import ServiceError
from postman_shared.timestamps import to_timestamp, utcnow
from tests.integration.campaign.support import CampaignApi, new_user_id, wait_until
from tests.support.inprocess import running
from tests.support.stores import free_port


def _ready_campaign(settings, api: CampaignApi) -> int:
    """A campaign with a template and recipients (prepared with the real renderer, stopped afterwards so that it
    does not consume the SendJobs the tests count)."""
    with running(settings, "auth", "renderer", "campaign"):
        campaign_id = api.create()
        api.save_template(campaign_id)
        api.upload(campaign_id, "email_basic.csv")
    return campaign_id


def _send_jobs(channel, campaign_ids) -> list[tuple[str, dict]]:
    """Every SendJob on campaign.send (taken off the queue) of these campaigns."""
    messages = []
    while True:
        method, properties, body = channel.basic_get(CAMPAIGN_SEND, auto_ack=True)
        if method is None:
            return [m for m in messages if m[1]["campaign_id"] in campaign_ids]
        messages.append((properties.message_id, json.loads(body)))


def _jobs(database, campaign_id) -> list[Job]:
    with database.unit_of_work() as session:  # not session(): its rollback would expire what is returned
        return list(session.scalars(select(Job).where(Job.campaign_id == campaign_id).order_by(Job.id)))


def _schedule(api: CampaignApi, campaign_id: int, seconds: float):
    return api.call("SendCampaign", campaign_id=campaign_id, scheduled_at=to_timestamp(utcnow() + timedelta(
        seconds=seconds)))


def test_a_send_scheduled_ahead_goes_out_once_after_the_service_restarts(settings, database, amqp_channel):
    api = CampaignApi(settings)
    campaign_id = _ready_campaign(settings, api)
    with running(settings, "campaign"):
        sent = _schedule(api, campaign_id, 3)
        [job_id] = sent.job_ids
        details = api.get(campaign_id)
    [job] = _jobs(database, campaign_id)
    assert (job.id, job.status) == (job_id, "READY") and job.scheduled_at is not None
    assert [(j.status, j.scheduled_at.seconds > 0) for j in details.jobs] == [("READY", True)]
    assert _send_jobs(amqp_channel, {campaign_id}) == []  # stopped before the time: nothing released

    wait_until(lambda: utcnow() > job.scheduled_at, timeout=10)
    assert _jobs(database, campaign_id)[0].status == "READY"  # no service: still waiting
    with running(settings, "campaign"):
        wait_until(lambda: _jobs(database, campaign_id)[0].status == "ENQUEUED", timeout=10)
        messages = wait_until(lambda: _send_jobs(amqp_channel, {campaign_id}), timeout=10)
        wait_until(lambda: _outbox_empty(database), timeout=10)
    assert messages == [(f"job-{job_id}", {"job_id": job_id, "campaign_id": campaign_id, "user_id": api.user_id})]
    assert _send_jobs(amqp_channel, {campaign_id}) == []
    assert [j.status for j in _jobs(database, campaign_id)] == ["ENQUEUED"]


def _outbox_empty(database) -> bool:
    with database.session() as session:
        return session.execute(select(models.outbox.c.id).limit(1)).first() is None


def test_two_campaign_replicas_release_each_scheduled_send_once(settings, database, amqp_channel):
    api = CampaignApi(settings)
    campaign_ids = [_ready_campaign(settings, api) for _ in range(3)]
    second = replace(settings, campaign_addr=f"127.0.0.1:{free_port()}")
    with running(settings, "campaign"):
        job_ids = [_schedule(api, campaign_id, 2).job_ids[0] for campaign_id in campaign_ids]
        with running(second, "campaign"):
            wait_until(lambda: all(_jobs(database, c)[0].status == "ENQUEUED" for c in campaign_ids), timeout=15)
            wait_until(lambda: _outbox_empty(database), timeout=10)
    messages = _send_jobs(amqp_channel, set(campaign_ids))
    assert sorted(message_id for message_id, _ in messages) == sorted(f"job-{j}" for j in job_ids)


def test_schedulers_racing_on_the_same_due_jobs_release_each_once(database):
    """Four schedulers tick at the same moment over 40 due jobs: every job gets exactly one SendJob."""
    user_id = new_user_id()
    with database.unit_of_work() as session:  # jobs already due, as a scheduled send leaves them
        campaigns = [Campaign(user_id=user_id, name=f"Race {n}", type="EMAIL", recipient_keys=[]) for n in range(40)]
        session.add_all(campaigns)
        session.flush()
        campaign_ids = [c.id for c in campaigns]
        session.add_all(Job(campaign_id=c, status="READY", scheduled_at=utcnow() - timedelta(seconds=1))
                        for c in campaign_ids)
    released: list[int] = []
    barrier = threading.Barrier(4)

    def tick() -> None:
        scheduler = Scheduler(database, publish_outbox=lambda: None, batch_size=7)
        barrier.wait()
        released.extend(scheduler.release_due())

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    mine = models.outbox.c.body["campaign_id"].as_integer().in_(campaign_ids)
    with database.unit_of_work() as session:
        jobs = session.execute(select(Job.id, Job.status).where(Job.campaign_id.in_(campaign_ids))).all()
        queued = [body["job_id"] for body in session.scalars(select(models.outbox.c.body).where(mine))]
        session.execute(delete(models.outbox).where(mine))  # nothing left for the next test's relay
    assert len(released) == 40 and sorted(released) == sorted(job_id for job_id, _ in jobs)
    assert {status for _, status in jobs} == {"ENQUEUED"}
    assert sorted(queued) == sorted(released)


def test_a_time_in_the_past_sends_at_once(settings, database, amqp_channel):
    api = CampaignApi(settings)
    campaign_id = _ready_campaign(settings, api)
    with running(settings, "campaign"):
        [job_id] = _schedule(api, campaign_id, -60).job_ids
        messages = wait_until(lambda: _send_jobs(amqp_channel, {campaign_id}))
    [job] = _jobs(database, campaign_id)
    assert (job.status, job.scheduled_at) == ("ENQUEUED", None)
    assert [message_id for message_id, _ in messages] == [f"job-{job_id}"]


def test_cancel_deletes_the_scheduled_job_and_the_campaign_is_a_draft_again(settings, database, amqp_channel):
    api = CampaignApi(settings)
    campaign_id = _ready_campaign(settings, api)
    with running(settings, "auth", "renderer", "campaign"):
        _schedule(api, campaign_id, 3600)
        with pytest.raises(ServiceError) as refused:
            api.save_template(campaign_id, subject="Changed")
        assert refused.value.code == "already_sent"

        cancelled = api.call("CancelScheduledSend", campaign_id=campaign_id)
        assert list(cancelled.jobs) == [] and _jobs(database, campaign_id) == []
        api.save_template(campaign_id, subject="Changed")  # a draft again: editable
        with pytest.raises(ServiceError) as again:
            api.call("CancelScheduledSend", campaign_id=campaign_id)
        assert again.value.code == "invalid_parameters" and "has not been sent" in again.value.message

    with running(settings, "campaign"):  # no renderer: the SendJob stays on the queue to be counted
        api.call("SendCampaign", campaign_id=campaign_id)  # now: released at once, nothing left to cancel
        with pytest.raises(ServiceError) as started:
            api.call("CancelScheduledSend", campaign_id=campaign_id)
        assert "already started" in started.value.message

        with pytest.raises(ServiceError) as intruder:
            CampaignApi(settings).call("CancelScheduledSend", campaign_id=campaign_id)
        assert intruder.value.code == "not_found"
    assert [job.status for job in _jobs(database, campaign_id)] != ["READY"]
    assert len(_send_jobs(amqp_channel, {campaign_id})) == 1

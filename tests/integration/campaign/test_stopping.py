"""Stopping and halting a campaign through the campaign service's gRPC API: the job becomes STOPPED (what every
renderer and sender asks), a halt says why and emails the owner once, a halted campaign resumes only with the
owner's confirmation, a stopped one only once the stop has settled, and a finished job emails the owner its counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from postman.v1 import campaign_pb2 as pb
from postman.v1 import common_pb2
from postman_campaign.models import Campaign, Job
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError
from postman_shared.timestamps import utcnow
from tests.integration.campaign.support import CampaignApi
from tests.support.inprocess import running

COUNTS = common_pb2.OutcomeCounts(sent=80, error=2, invalid=15, unsubscribed=3, delivered=60, opened=10,
                                  hard_bounced=12, soft_bounced=1, complained=1, blacklisted=1)


@pytest.fixture
def campaign_service(settings):
    with running(settings, "campaign"):
        yield CampaignApi(settings)


def _campaign_with_job(database, api: CampaignApi, status: str) -> tuple[int, int]:
    campaign_id = api.create("Vaccination reminders")
    with database.unit_of_work() as session:
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(num_recipients=100))
        job = Job(campaign_id=campaign_id, status=status,
                  scheduled_at=utcnow() + timedelta(days=1) if status == "READY" else None)
        session.add(job)
        session.flush()
        return campaign_id, job.id


def _job(database, job_id: int) -> Job:
    with database.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


def _notices(amqp_channel, prefix: str) -> list[dict]:
    import json
    found = []
    while True:
        method, _properties, body = amqp_channel.basic_get("owner.notices", auto_ack=True)
        if method is None:
            return found
        notice = json.loads(body)
        if notice["notice_id"].startswith(prefix):
            found.append(notice)


def _stopped(api: CampaignApi, job_ids: list[int]) -> list[int]:
    return list(client.call(api.stub.GetStoppedJobs, pb.GetStoppedJobsRequest(job_ids=job_ids)).stopped_job_ids)


@pytest.mark.parametrize("status", ["ENQUEUED", "SENDING", "SENT"])
def test_the_owner_stops_a_sending_campaign_and_every_stage_can_tell(campaign_service, database, status):
    api = campaign_service
    campaign_id, job_id = _campaign_with_job(database, api, status)
    _, other_job = _campaign_with_job(database, api, "SENDING")

    stopped = api.call("StopCampaign", campaign_id=campaign_id, channel="EMAIL")

    assert [job.status for job in stopped.jobs] == ["STOPPED"]
    assert _stopped(api, [job_id, other_job, 987654321]) == [job_id]
    assert not stopped.halted


@pytest.mark.parametrize(("status", "words"), [("READY", "cancel the scheduled send"), ("LOGGED", "not sending"),
                                                ("STOPPED", "not sending"), (None, "has not been sent")])
def test_a_campaign_that_is_not_sending_cannot_be_stopped_and_is_told_what_to_do(campaign_service, database, status,
                                                                                words):
    api = campaign_service
    if status is None:
        campaign_id, job_id = api.create(), None
    else:
        campaign_id, job_id = _campaign_with_job(database, api, status)

    with pytest.raises(ServiceError, match=words) as refused:
        api.call("StopCampaign", campaign_id=campaign_id)

    assert refused.value.code == "invalid_parameters"
    if job_id is not None:
        assert _job(database, job_id).status == status


def test_another_users_campaign_cannot_be_stopped(campaign_service, database, settings):
    campaign_id, job_id = _campaign_with_job(database, campaign_service, "SENDING")
    intruder = CampaignApi(settings)
    with pytest.raises(ServiceError) as refused:
        intruder.call("StopCampaign", campaign_id=campaign_id)
    assert refused.value.code == "not_found"
    assert _job(database, job_id).status == "SENDING"


def test_a_halt_stops_the_job_says_why_and_emails_the_owner_once(campaign_service, database, amqp_channel):
    api = campaign_service
    campaign_id, job_id = _campaign_with_job(database, api, "SENDING")
    reason = "12 of 97 messages sent bounced permanently (12.4%), more than 10 and 10%: check the recipient list"

    halted = client.call(api.stub.HaltCampaign, pb.HaltCampaignRequest(campaign_id=campaign_id, job_id=job_id,
                                                                       reason=reason, counts=COUNTS))
    again = client.call(api.stub.HaltCampaign, pb.HaltCampaignRequest(campaign_id=campaign_id, job_id=job_id,
                                                                      reason="another reason", counts=COUNTS))

    assert halted.halted and halted.halt_reason == reason and halted.halted_at.seconds > 0
    assert again.halt_reason == reason
    assert _job(database, job_id).status == "STOPPED"
    [notice] = _notices(amqp_channel, f"notice-halted-{job_id}")
    assert notice["user_id"] == api.user_id and notice["subject"] == "Campaign halted: Vaccination reminders"
    assert reason in notice["body"] and "<td align=\"right\">12 / 1</td>" in notice["body"]
    assert (notice["audit_action"], notice["audit_target_id"]) == ("campaign.halted", campaign_id)


def test_a_halt_for_an_older_job_changes_nothing(campaign_service, database):
    api = campaign_service
    campaign_id, old_job = _campaign_with_job(database, api, "LOGGED")
    with database.unit_of_work() as session:
        session.add(Job(campaign_id=campaign_id, status="SENDING", retry_of=old_job))

    halted = client.call(api.stub.HaltCampaign, pb.HaltCampaignRequest(campaign_id=campaign_id, job_id=old_job,
                                                                       reason="late", counts=COUNTS))

    assert not halted.halted and halted.jobs[-1].status == "SENDING"


def test_a_halted_campaign_resumes_only_with_the_owners_confirmation(campaign_service, database):
    api = campaign_service
    campaign_id, job_id = _campaign_with_job(database, api, "SENDING")
    client.call(api.stub.HaltCampaign, pb.HaltCampaignRequest(campaign_id=campaign_id, job_id=job_id,
                                                              reason="too many bounces", counts=COUNTS))
    with database.unit_of_work() as session:  # the stop settled a while ago
        session.execute(update(Job).where(Job.id == job_id).values(status_updated_at=utcnow() - timedelta(minutes=1)))

    with pytest.raises(ServiceError, match="was halted: too many bounces") as refused:
        client.call(api.stub.RetryCampaign, pb.RetryCampaignRequest(campaign_id=campaign_id, user_id=api.user_id))
    resumed = client.call(api.stub.RetryCampaign, pb.RetryCampaignRequest(
        campaign_id=campaign_id, user_id=api.user_id, confirm_halted=True))

    assert refused.value.code == "invalid_parameters" and "confirm_halted" in refused.value.message
    campaign = api.get(campaign_id)
    assert not campaign.halted and campaign.halt_reason == "too many bounces"
    assert [(job.id, job.status, job.retry_of) for job in campaign.jobs][-1] == (resumed.job_ids[0], "ENQUEUED",
                                                                                 job_id)


def test_a_stopped_campaign_resumes_once_the_stop_has_settled(campaign_service, database):
    api = campaign_service
    campaign_id, job_id = _campaign_with_job(database, api, "SENDING")
    api.call("StopCampaign", campaign_id=campaign_id)

    with pytest.raises(ServiceError, match="still stopping"):
        client.call(api.stub.RetryCampaign, pb.RetryCampaignRequest(campaign_id=campaign_id, user_id=api.user_id))
    with database.unit_of_work() as session:
        session.execute(update(Job).where(Job.id == job_id).values(status_updated_at=utcnow() - timedelta(seconds=6)))
    resumed = client.call(api.stub.RetryCampaign, pb.RetryCampaignRequest(campaign_id=campaign_id,
                                                                          user_id=api.user_id))

    assert resumed.job_ids and _job(database, resumed.job_ids[0]).retry_of == job_id


def test_a_finished_job_emails_the_owner_its_counts_once(campaign_service, database, amqp_channel):
    api = campaign_service
    campaign_id, job_id = _campaign_with_job(database, api, "SENT")
    with database.unit_of_work() as session:
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(num_invalid=5))

    api.call("SetJobStatus", job_id=job_id, status="LOGGED", counts=COUNTS)
    api.call("SetJobStatus", job_id=job_id, status="LOGGED", counts=COUNTS)

    [notice] = _notices(amqp_channel, f"notice-finished-{job_id}")
    assert notice["subject"] == "Campaign finished: Vaccination reminders" and notice["audit_action"] == ""
    body = notice["body"]
    for label, value in (("Recipients", "100"), ("Sent", "80"), ("of which delivered", "70"), ("Errors", "2"),
                         ("Invalid recipients in the file", "5"), ("Not sent: unsubscribed", "3"),
                         ("Not sent yet", "0")):
        assert f"<th align=\"left\">{label}</th><td align=\"right\">{value}</td>" in body, label
    with database.session() as session:
        assert session.scalar(select(Job.status).where(Job.id == job_id)) == "LOGGED"
        assert session.scalar(text("SELECT count(*) FROM campaign_outbox WHERE message_id = :m"),
                              {"m": f"notice-finished-{job_id}"}) == 0  # published

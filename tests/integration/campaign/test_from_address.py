"""A campaign's From (issue 12), checked by the campaign service with auth's verified addresses: when the template is
saved, and again whenever its email is about to leave (send, retry, test email, the release of a scheduled send),
so a draft saved before the rule, or one whose address was removed since, cannot go out with that From."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from postman_auth import api_keys
from postman_auth.models import AuditEvent, SenderAddress
from postman_campaign import models
from postman_campaign.models import EmailTemplate, Job
from postman_campaign.scheduling import Scheduler
from postman_campaign.sender_check import SenderCheck
from postman_shared.broker.topology import OWNER_NOTICES
from postman_shared.grpc.errors import ServiceError
from postman_shared.sender_client import AuthVerifiedSenders
from postman_shared.timestamps import to_timestamp, utcnow
from tests.integration.campaign.support import CampaignApi, wait_until
from tests.support import service_identity
from tests.support.inprocess import running

DEFAULT_ADDRESS = "donotreply@mail.postman.gov.sg"


def _officer(database, *verified: str) -> tuple[int, str]:
    """A user (as auth stores them) with these VERIFIED sender addresses; (user id, their address)."""
    email = f"officer-{secrets.token_hex(4)}@moh.gov.sg"
    with database.unit_of_work() as session:
        user = api_keys.get_or_create_user(session, email)
        for address in verified:
            session.add(SenderAddress(user_id=user.id, email=address, status="VERIFIED", method="link",
                                      verified_at=utcnow()))
        return user.id, email


def _remove(database, user_id: int, address: str) -> None:
    with database.unit_of_work() as session:
        session.execute(delete(SenderAddress).where(SenderAddress.user_id == user_id, SenderAddress.email == address))


def _saved_from(database, campaign_id: int) -> str:
    with database.session() as session:
        return session.scalar(select(EmailTemplate.from_address).where(EmailTemplate.campaign_id == campaign_id))


def _force_from(database, campaign_id: int, value: str) -> None:
    """What a template saved before the rule holds: any From that was only checked to be an address."""
    with database.unit_of_work() as session:
        session.execute(update(EmailTemplate).where(EmailTemplate.campaign_id == campaign_id)
                        .values(from_address=value))


def _error(call, *args, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args, **kwargs)
    return caught.value


def _jobs(database, campaign_id: int) -> list[Job]:
    with database.unit_of_work() as session:
        return list(session.scalars(select(Job).where(Job.campaign_id == campaign_id).order_by(Job.id)))


def _rendered(database, job_id: int) -> None:
    """Waits until the renderer has done the job: a test must not stop the services in the middle of a send."""
    def done() -> bool:
        with database.session() as session:
            return session.scalar(select(Job.status).where(Job.id == job_id)) in ("SENT", "LOGGED")

    wait_until(done)


def _ready(api: CampaignApi, from_address: str) -> int:
    campaign_id = api.create()
    api.save_template(campaign_id, from_address=from_address)
    api.upload(campaign_id, "email_basic.csv")
    return campaign_id


@pytest.fixture
def services(settings):
    with running(settings, "auth", "renderer", "campaign"):
        yield


@pytest.mark.usefixtures("services")
def test_a_template_may_be_from_the_default_address_or_the_owners_verified_one_only(settings, database):
    user_id, _ = _officer(database, "clinic@moh.gov.sg")
    other_id, _ = _officer(database, "minister@moh.gov.sg")
    api = CampaignApi(settings, user_id=user_id)
    campaign_id = api.create()

    assert api.save_template(campaign_id, from_address="Clinic <Clinic@MOH.gov.sg>").template.from_address == \
        "Clinic <clinic@moh.gov.sg>"
    assert api.save_template(campaign_id, from_address=f"Ministry of Health <{DEFAULT_ADDRESS}>").template \
        .from_address == f"Ministry of Health via Postman <{DEFAULT_ADDRESS}>"
    assert api.save_template(campaign_id).template.from_address == settings.email_from  # no From: the default

    for value in ("Minister <minister@moh.gov.sg>",  # another user's verified address
                  "ceo@moh.gov.sg",  # nobody's
                  f'"ceo@moh.gov.sg" <{DEFAULT_ADDRESS}>',  # a name that reads as an address
                  f"=?utf-8?q?ceo=40moh.gov.sg?= <{DEFAULT_ADDRESS}>"):
        refused = _error(api.save_template, campaign_id, subject="Changed", from_address=value)
        assert refused.code == "invalid_from_address", value
    assert _saved_from(database, campaign_id) == settings.email_from  # the refused saves changed nothing
    assert other_id != user_id


@pytest.mark.usefixtures("services")
def test_a_draft_saved_before_the_rule_is_refused_at_send_and_nothing_is_queued(settings, database):
    user_id, _ = _officer(database)
    api = CampaignApi(settings, user_id=user_id)
    campaign_id = _ready(api, "")
    _force_from(database, campaign_id, "Ministry of Health <ceo@moh.gov.sg>")

    refused = _error(api.call, "SendCampaign", campaign_id=campaign_id)

    assert (refused.code, refused.http_status) == ("invalid_from_address", 400)
    assert "Settings > Sender addresses" in refused.message and "Change the From" in refused.message
    assert _jobs(database, campaign_id) == []
    tested = _error(api.call, "SendTestEmail", campaign_id=campaign_id, recipient="me@moh.gov.sg")
    assert tested.code == "invalid_from_address"  # the test email leaves with the same From: refused too


@pytest.mark.usefixtures("services")
def test_a_legacy_draft_from_the_default_address_is_sent_with_via_postman(settings, database):
    user_id, _ = _officer(database)
    api = CampaignApi(settings, user_id=user_id)
    campaign_id = _ready(api, "")
    _force_from(database, campaign_id, f"Clinic <{DEFAULT_ADDRESS.upper()}>")

    [job_id] = api.call("SendCampaign", campaign_id=campaign_id).job_ids

    assert [job.id for job in _jobs(database, campaign_id)] == [job_id]
    assert _saved_from(database, campaign_id) == f"Clinic via Postman <{DEFAULT_ADDRESS}>"  # what the renderer sends
    _rendered(database, job_id)


@pytest.mark.usefixtures("services")
def test_an_address_removed_after_the_save_is_refused_at_send_retry_and_test(settings, database):
    user_id, _ = _officer(database, "clinic@moh.gov.sg")
    api = CampaignApi(settings, user_id=user_id)
    campaign_id = _ready(api, "Clinic <clinic@moh.gov.sg>")
    api.call("SendTestEmail", campaign_id=campaign_id, recipient="me@moh.gov.sg")  # allowed while verified
    [job_id] = api.call("SendCampaign", campaign_id=campaign_id).job_ids
    _rendered(database, job_id)
    with database.unit_of_work() as session:  # the send finished
        session.execute(update(Job).where(Job.id == job_id).values(status="LOGGED"))

    _remove(database, user_id, "clinic@moh.gov.sg")

    assert _error(api.call, "RetryCampaign", campaign_id=campaign_id).code == "invalid_from_address"
    assert _error(api.call, "SendTestEmail", campaign_id=campaign_id, recipient="me@moh.gov.sg").code == \
        "invalid_from_address"
    assert [job.id for job in _jobs(database, campaign_id)] == [job_id]  # no retry job

    second = _ready(api, "")
    _force_from(database, second, "Clinic <clinic@moh.gov.sg>")
    assert _error(api.call, "SendCampaign", campaign_id=second).code == "invalid_from_address"


def _notices(database, campaign_id: int) -> list[dict]:
    with database.session() as session:
        return [body for body in session.scalars(select(models.outbox.c.body).where(
            models.outbox.c.routing_key == OWNER_NOTICES)) if body.get("audit_target_id") == campaign_id]


def test_a_scheduled_send_whose_from_was_removed_is_not_released_and_becomes_a_draft(settings, database):
    user_id, _ = _officer(database, "clinic@moh.gov.sg")
    api = CampaignApi(settings, user_id=user_id)
    with running(settings, "auth", "renderer"):
        scheduler = Scheduler(database, lambda: None, senders=SenderCheck(
            settings.email_from, AuthVerifiedSenders(settings.auth_addr)), public_url="https://postman.example")
        with running(settings, "campaign"):
            kept = _ready(api, "Clinic <clinic@moh.gov.sg>")
            refused = _ready(api, "Clinic <clinic@moh.gov.sg>")
            for campaign_id in (kept, refused):
                api.call("SendCampaign", campaign_id=campaign_id, scheduled_at=to_timestamp(
                    utcnow() + timedelta(hours=1)))
        with database.unit_of_work() as session:  # both are due now
            session.execute(update(Job).where(Job.campaign_id.in_([kept, refused]))
                            .values(scheduled_at=utcnow() - timedelta(seconds=1)))
        _force_from(database, kept, f"Clinic <{DEFAULT_ADDRESS}>")  # as a draft of before the rule
        _remove(database, user_id, "clinic@moh.gov.sg")

        with service_identity.acting_as("campaign"):  # the test runs campaign's scheduler itself
            released = scheduler.release_due()

        [kept_job] = _jobs(database, kept)
        assert kept_job.status == "ENQUEUED" and kept_job.id in released
        assert _saved_from(database, kept) == f"Clinic via Postman <{DEFAULT_ADDRESS}>"
        assert _jobs(database, refused) == []  # a draft again: the owner can change the From and send it
        [notice] = _notices(database, refused)
        assert notice["user_id"] == user_id and notice["subject"].startswith("Scheduled campaign not sent")
        assert "clinic@moh.gov.sg" in notice["body"] and "draft again" in notice["body"]
        assert notice["audit_action"] == "campaign.schedule_cancelled"
        with running(settings, "campaign"):
            assert api.get(refused).email_template.from_address == "Clinic <clinic@moh.gov.sg>"
            api.save_template(refused, from_address=f"Clinic <{DEFAULT_ADDRESS}>")  # editable again
            _rendered(database, kept_job.id)  # the released send goes through (its From was allowed)
    with database.unit_of_work() as session:  # nothing left for the next test's relay to publish
        session.execute(delete(models.outbox).where((models.outbox.c.routing_key == OWNER_NOTICES)
                                                    | (models.outbox.c.body["campaign_id"].as_integer() == kept)))


def test_a_scheduled_send_waits_when_auth_cannot_say_whether_its_from_is_allowed(settings, database):
    user_id, _ = _officer(database, "clinic@moh.gov.sg")
    api = CampaignApi(settings, user_id=user_id)
    with running(settings, "auth", "renderer", "campaign"):
        campaign_id = _ready(api, "Clinic <clinic@moh.gov.sg>")
        api.call("SendCampaign", campaign_id=campaign_id, scheduled_at=to_timestamp(utcnow() + timedelta(hours=1)))
    with database.unit_of_work() as session:
        session.execute(update(Job).where(Job.campaign_id == campaign_id)
                        .values(scheduled_at=utcnow() - timedelta(seconds=1)))
    unreachable = SenderCheck(settings.email_from, AuthVerifiedSenders(settings.auth_addr, timeout=0.5))

    with service_identity.acting_as("campaign"):  # the test runs campaign's scheduler itself
        assert Scheduler(database, lambda: None, senders=unreachable).release_due() == []  # auth is not running

    assert [job.status for job in _jobs(database, campaign_id)] == ["READY"]
    with running(settings, "auth"), service_identity.acting_as("campaign"):
        wait_until(lambda: Scheduler(database, lambda: None, senders=unreachable).release_due() != [], timeout=15)
    assert [job.status for job in _jobs(database, campaign_id)] == ["ENQUEUED"]
    with database.unit_of_work() as session:  # nothing left for the next test's relay to publish
        session.execute(delete(models.outbox).where(models.outbox.c.body["campaign_id"].as_integer() == campaign_id))
    with database.session() as session:
        assert session.scalar(select(AuditEvent.id).where(AuditEvent.action == "campaign.schedule_cancelled",
                                                          AuditEvent.user_id == user_id)) is None

"""Sending: one job and exactly one SendJob message, published only after the job is committed."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from postman_campaign import models
from postman_campaign.models import Job, Upload
from postman_shared.broker.topology import CAMPAIGN_SEND
from postman_shared.grpc.errors import ServiceError
from tests.integration.campaign.support import CampaignApi, wait_until
from tests.support.inprocess import running


def _error(call, *args, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args, **kwargs)
    return caught.value


def _ready_campaign(settings, api) -> int:
    """A campaign with a template and recipients, prepared with the real renderer (stopped afterwards so that it
    does not consume the SendJob the test wants to see)."""
    with running(settings, "auth", "renderer", "campaign"):
        campaign_id = api.create()
        api.save_template(campaign_id)
        api.upload(campaign_id, "email_basic.csv")
    return campaign_id


def _queued(channel) -> list[tuple[str, dict]]:
    messages = []
    while True:
        method, properties, body = channel.basic_get(CAMPAIGN_SEND, auto_ack=True)
        if method is None:
            return messages
        messages.append((properties.message_id, json.loads(body)))


def _count(database, table, *where):
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(table).where(*where))


def test_send_commits_a_job_and_publishes_exactly_one_send_job(settings, database, amqp_channel):
    api = CampaignApi(settings)
    campaign_id = _ready_campaign(settings, api)
    with running(settings, "campaign"):
        sent = api.call("SendCampaign", campaign_id=campaign_id)
        [job_id] = sent.job_ids
        messages = wait_until(lambda: _queued(amqp_channel))
        campaign = api.get(campaign_id)
    assert sent.campaign_id == campaign_id
    assert messages == [(f"job-{job_id}", {"job_id": job_id, "campaign_id": campaign_id, "user_id": api.user_id})]
    assert [(j.id, j.status) for j in campaign.jobs] == [(job_id, "ENQUEUED")]
    assert _count(database, models.outbox) == 0
    assert _queued(amqp_channel) == []


def test_sending_twice_is_already_sent_and_the_campaign_is_then_frozen(settings, amqp_channel):
    api = CampaignApi(settings)
    campaign_id = _ready_campaign(settings, api)
    with running(settings, "campaign"):  # "already sent" is decided before the renderer would be asked
        api.call("SendCampaign", campaign_id=campaign_id)
        again = _error(api.call, "SendCampaign", campaign_id=campaign_id)
        template = _error(api.save_template, campaign_id)
        upload = _error(api.start_upload, campaign_id)
    assert (again.code, again.http_status) == ("already_sent", 403)
    assert template.code == "already_sent" and upload.code == "already_sent"


def test_a_send_whose_transaction_rolls_back_publishes_nothing(settings, database, amqp_channel):
    api = CampaignApi(settings)
    campaign_id = _ready_campaign(settings, api)
    # A deferred trigger makes the COMMIT itself fail, after the job and the outbox row were both written.
    with database.unit_of_work() as session:
        session.execute(text("""
            CREATE FUNCTION test_refuse_commit() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'commit refused by the test'; END $$;
            CREATE CONSTRAINT TRIGGER test_refuse_commit AFTER INSERT ON campaign_outbox
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_refuse_commit();
        """))
    try:
        with running(settings, "campaign"):
            error = _error(api.call, "SendCampaign", campaign_id=campaign_id)
    finally:
        with database.unit_of_work() as session:
            session.execute(text("DROP TRIGGER test_refuse_commit ON campaign_outbox; "
                                 "DROP FUNCTION test_refuse_commit();"))
    assert error.code == "internal_server"
    assert _count(database, Job, Job.campaign_id == campaign_id) == 0
    assert _count(database, models.outbox) == 0
    assert _queued(amqp_channel) == []


@pytest.mark.parametrize("prepare, words", [
    ("nothing", "no template"),
    ("template", "no recipients"),
    ("wrong keys", "no column for the template keys: document"),
    ("only invalid recipients", "no valid recipients"),
])
def test_an_incomplete_campaign_cannot_be_sent(settings, database, amqp_channel, prepare, words):
    with running(settings, "auth", "renderer", "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        if prepare == "only invalid recipients":
            api.upload(campaign_id, b"recipient,name\nnot-an-address,A\n")
        if prepare != "nothing":
            api.save_template(campaign_id, body="<p>{{ name }} {{ document }}</p>" if prepare == "wrong keys"
                              else "<p>{{ name }}</p>")
        if prepare == "wrong keys":
            api.upload(campaign_id, "bad_invalid_emails.csv")  # columns recipient, name only: rejected
            with database.unit_of_work() as session:  # make the list exist anyway, as if the template came later
                session.execute(text("UPDATE campaigns SET csv_filename = 'old.csv', recipient_keys = "
                                     "'{recipient,name}', num_recipients = 1 WHERE id = :id"), {"id": campaign_id})
        error = _error(api.call, "SendCampaign", campaign_id=campaign_id)
    assert error.code == "invalid_parameters" and words in error.message
    assert _count(database, Job, Job.campaign_id == campaign_id) == 0


def test_a_campaign_whose_list_is_still_processing_cannot_be_sent(settings, database):
    api = CampaignApi(settings)
    campaign_id = _ready_campaign(settings, api)
    with running(settings, "campaign"):
        with database.unit_of_work() as session:
            session.add(Upload(campaign_id=campaign_id, transaction_id=f"busy-{campaign_id}", object_key="k.csv",
                               mime_type="text/csv", status="PROCESSING", filename="next.csv"))
        error = _error(api.call, "SendCampaign", campaign_id=campaign_id)
        assert api.get(campaign_id).is_csv_processing
        with database.unit_of_work() as session:  # do not leave work for the next test's service start
            session.execute(text("UPDATE uploads SET status = 'FAILED' WHERE transaction_id = :t"),
                            {"t": f"busy-{campaign_id}"})
    assert error.code == "invalid_parameters" and "still being processed" in error.message

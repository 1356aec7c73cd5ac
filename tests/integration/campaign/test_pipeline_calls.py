"""The calls the renderer and stats make: GetJob, SetJobStatus and StreamRecipients (keyset pages in id order)."""

from __future__ import annotations

import grpc
import pytest

from postman.v1 import campaign_pb2 as pb
from postman_campaign.models import Job
from postman_shared.grpc.errors import ServiceError, from_rpc_error
from tests.integration.campaign.support import CampaignApi
from tests.support.inprocess import running


def _stream(api, **fields):
    try:
        return [list(batch.recipients) for batch in api.stub.StreamRecipients(pb.StreamRecipientsRequest(**fields))]
    except grpc.RpcError as exc:
        raise from_rpc_error(exc) from None


def test_stream_recipients_pages_in_id_order_after_the_given_id(settings):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        content = "recipient,name\n" + "".join(f"p{i}@example.gov.sg,Person {i}\n" for i in range(1, 26))
        api.upload(campaign_id, content.encode())
        batches = _stream(api, campaign_id=campaign_id, batch_size=10)
        everyone = [r for batch in batches for r in batch]
        resumed = _stream(api, campaign_id=campaign_id, after_id=everyone[11].id, batch_size=10)
        # a slice of a job (flow control) reads no more than it may render
        sliced = _stream(api, campaign_id=campaign_id, after_id=everyone[1].id, batch_size=10, limit=13)
        small_slice = _stream(api, campaign_id=campaign_id, batch_size=10, limit=4)
    assert [len(b) for b in batches] == [10, 10, 5]
    assert [[r.id for r in b] for b in sliced] == [[r.id for r in everyone[2:12]], [r.id for r in everyone[12:15]]]
    assert [[r.id for r in b] for b in small_slice] == [[r.id for r in everyone[:4]]]
    ids = [r.id for r in everyone]
    assert ids == sorted(ids) and len(set(ids)) == 25
    assert everyone[0].recipient == "p1@example.gov.sg" and dict(everyone[0].params)["name"] == "Person 1"
    assert everyone[0].line == 2 and everyone[0].valid
    assert [r.id for b in resumed for r in b] == ids[12:]


def test_stream_recipients_can_skip_invalid_ones(settings):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        api.upload(campaign_id, "bad_invalid_emails.csv")
        everyone = [r for b in _stream(api, campaign_id=campaign_id) for r in b]
        valid = [r for b in _stream(api, campaign_id=campaign_id, valid_only=True) for r in b]
    assert len(everyone) == 4 and [r.recipient for r in valid] == ["c@example.gov.sg"]


def test_stream_of_an_unknown_campaign_is_not_found(settings):
    with running(settings, "campaign"):
        with pytest.raises(ServiceError) as error:
            _stream(CampaignApi(settings), campaign_id=987654321)
    assert error.value.code == "not_found"


def test_set_job_status_moves_the_job_and_sent_records_when(settings, database):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        campaign_id = api.create()
        with database.unit_of_work() as session:
            job = Job(campaign_id=campaign_id, status="ENQUEUED")
            session.add(job)
            session.flush()
            job_id = job.id
        sending = api.call("SetJobStatus", job_id=job_id, status="SENDING")
        sent = api.call("SetJobStatus", job_id=job_id, status="SENT")
        details = api.call("GetJob", job_id=job_id)
        with pytest.raises(ServiceError) as bad_status:
            api.call("SetJobStatus", job_id=job_id, status="DONE")
        with pytest.raises(ServiceError) as missing:
            api.call("GetJob", job_id=job_id + 1000)
    assert sending.status == "SENDING" and not sending.HasField("sent_at")
    assert sent.status == "SENT" and sent.HasField("sent_at") and sent.status_updated_at.seconds > 0
    assert details.job.id == job_id and details.campaign.id == campaign_id and details.campaign.user_id == api.user_id
    assert bad_status.value.code == "invalid_parameters" and "READY" in bad_status.value.message
    assert missing.value.code == "not_found"

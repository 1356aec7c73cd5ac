"""The campaign service as the renderer sees it: a send job, its status, and its recipients in batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import grpc

from postman.v1 import campaign_pb2, campaign_pb2_grpc
from postman_shared.grpc import client
from postman_shared.grpc.errors import from_rpc_error


class CampaignClient:
    """Calls CampaignService over gRPC; the channel is opened on first use, not when the client is built."""

    def __init__(self, address: str) -> None:
        self._address = address

    def _stub(self) -> campaign_pb2_grpc.CampaignServiceStub:
        return client.stub(self._address, campaign_pb2_grpc.CampaignServiceStub)

    def get_job(self, job_id: int) -> campaign_pb2.JobDetails:
        return client.call(self._stub().GetJob, campaign_pb2.GetJobRequest(job_id=job_id))

    def set_job_status(self, job_id: int, status: str) -> None:
        client.call(self._stub().SetJobStatus, campaign_pb2.SetJobStatusRequest(job_id=job_id, status=status))

    def valid_recipients(
        self, campaign_id: int, after_id: int, batch_size: int, limit: int = 0
    ) -> Iterator[Sequence[campaign_pb2.Recipient]]:
        """The campaign's valid recipients with id > after_id, in id order, one batch at a time; at most ``limit``
        (0: all), so a slice of a job reads no more than it renders.

        One stream per slice of the job, without a deadline: a big job streams for as long as rendering takes, and
        the channel's keepalive notices a dead peer. Failures surface as ServiceError.
        """
        request = campaign_pb2.StreamRecipientsRequest(
            campaign_id=campaign_id, after_id=after_id, batch_size=batch_size, valid_only=True, limit=limit
        )
        responses = client.track(self._stub().StreamRecipients(request, wait_for_ready=True))
        try:
            for batch in responses:
                yield batch.recipients
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        finally:  # closed early (a slice of the job is done): the server stops streaming
            responses.cancel()

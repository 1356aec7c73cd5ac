"""The campaign service as stats sees it: a campaign (which checks ownership), a job's status, the recipients."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import grpc

from postman.v1 import campaign_pb2, campaign_pb2_grpc
from postman_shared.grpc import client
from postman_shared.grpc.errors import from_rpc_error

EXPORT_BATCH = 2000


class CampaignClient:
    """Calls CampaignService over gRPC; the channel is opened on first use, not when the client is built."""

    def __init__(self, address: str) -> None:
        self._address = address

    def _stub(self) -> campaign_pb2_grpc.CampaignServiceStub:
        return client.stub(self._address, campaign_pb2_grpc.CampaignServiceStub)

    def get_campaign(self, campaign_id: int, user_id: int) -> campaign_pb2.Campaign:
        """The campaign if it belongs to the user; ServiceError ``not_found`` otherwise."""
        return client.call(self._stub().GetCampaign, campaign_pb2.CampaignRef(campaign_id=campaign_id, user_id=user_id))

    def set_job_status(self, job_id: int, status: str) -> None:
        client.call(self._stub().SetJobStatus, campaign_pb2.SetJobStatusRequest(job_id=job_id, status=status))

    def all_recipients(self, campaign_id: int) -> Iterator[Sequence[campaign_pb2.Recipient]]:
        """Every recipient of the campaign, valid or not, in id order, one batch at a time (ServiceError on failure).

        No deadline: an export of a big campaign streams for a while; the channel's keepalive notices a dead peer.
        """
        request = campaign_pb2.StreamRecipientsRequest(campaign_id=campaign_id, batch_size=EXPORT_BATCH,
                                                       valid_only=False)
        try:
            for batch in self._stub().StreamRecipients(request, wait_for_ready=True):
                yield batch.recipients
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

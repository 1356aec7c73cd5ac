"""The campaign service as stats sees it: a campaign (which checks ownership), a job's status, the recipients."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import grpc

from postman.v1 import campaign_pb2, campaign_pb2_grpc, common_pb2, suppression_pb2, suppression_pb2_grpc
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

    def campaigns_latest_sent_first(self, user_id: int, page_size: int,
                                    max_pages: int) -> Iterator[campaign_pb2.ListCampaignsResponse]:
        """The user's campaigns, latest sent first (never sent last), one page at a time, while the caller reads."""
        for page in range(max_pages):
            yield client.call(self._stub().ListCampaigns, campaign_pb2.ListCampaignsRequest(
                user_id=user_id, limit=page_size, offset=page * page_size, sort_by="sent_at", order_by="DESC"))

    def set_job_status(self, job_id: int, status: str, counts: common_pb2.OutcomeCounts | None = None) -> None:
        client.call(self._stub().SetJobStatus, campaign_pb2.SetJobStatusRequest(job_id=job_id, status=status,
                                                                                counts=counts))

    def halt_campaign(self, campaign_id: int, job_id: int, reason: str,
                      counts: common_pb2.OutcomeCounts) -> campaign_pb2.Campaign:
        return client.call(self._stub().HaltCampaign, campaign_pb2.HaltCampaignRequest(
            campaign_id=campaign_id, job_id=job_id, reason=reason, counts=counts))

    def unsubscribes(self, campaign_id: int) -> dict[str, suppression_pb2.UnsubscribeState]:
        """Who unsubscribed through the campaign's links: recipient -> their unsubscribe (ServiceError on failure)."""
        stub = client.stub(self._address, suppression_pb2_grpc.SuppressionServiceStub)
        request = suppression_pb2.StreamUnsubscribesRequest(campaign_id=campaign_id)
        found: dict[str, suppression_pb2.UnsubscribeState] = {}
        try:
            for batch in client.track(stub.StreamUnsubscribes(request, wait_for_ready=True, timeout=600)):
                found.update((u.recipient, u) for u in batch.unsubscribes)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        return found

    def all_recipients(self, campaign_id: int) -> Iterator[Sequence[campaign_pb2.Recipient]]:
        """Every recipient of the campaign, valid or not, in id order, one batch at a time (ServiceError on failure).

        No deadline: an export of a big campaign streams for a while; the channel's keepalive notices a dead peer.
        """
        request = campaign_pb2.StreamRecipientsRequest(campaign_id=campaign_id, batch_size=EXPORT_BATCH,
                                                       valid_only=False)
        try:
            for batch in client.track(self._stub().StreamRecipients(request, wait_for_ready=True)):
                yield batch.recipients
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

"""The officer's own campaign, as every campaign page asks for it."""

from __future__ import annotations

from flask import redirect
from werkzeug.wrappers import Response

from postman.v1 import campaign_pb2
from postman_gateway.core.backends import backends
from postman_gateway.core.request_context import current
from postman_gateway.web.campaign.view import CampaignView
from postman_shared.grpc import client
from postman_shared.grpc.errors import NotFound

MAX_ID = 2**63 - 1


def campaign_ref(campaign_id: int) -> campaign_pb2.CampaignRef:
    """The campaign as the signed-in officer's (an id out of range is NotFound, not a gRPC error)."""
    if not 1 <= campaign_id <= MAX_ID:
        raise NotFound("Campaign")
    return campaign_pb2.CampaignRef(campaign_id=campaign_id, user_id=current().user_id)


def officer_campaign(campaign_id: int) -> CampaignView:
    """The officer's campaign (another user's is NotFound: the campaign service decides)."""
    return CampaignView.of(client.call(backends().campaign.GetCampaign, campaign_ref(campaign_id)))


def see_other(url: str) -> Response:
    return redirect(url, code=303)

"""``/v1/campaigns``: create, list, rename and delete campaigns, and cancel a scheduled send."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2
from postman_gateway.api import saved_templates
from postman_gateway.core import audit, serializers
from postman_gateway.core.auth import current_caller
from postman_gateway.core.backends import backends
from postman_gateway.core.request_context import current
from postman_gateway.core.validation import (
    campaign_id,
    json_body,
    one_of,
    optional_bool,
    optional_string,
    query_choice,
    query_int,
    query_string,
    required_string,
)
from postman_shared.campaign_statuses import CampaignStatus
from postman_shared.grpc import client

CHANNEL_TYPES = ("EMAIL", "SMS", "TELEGRAM")
# In the contract's order; Scheduled: the upstream server's extra (contract §7).
LIST_STATUSES = (CampaignStatus.DRAFT, CampaignStatus.SENDING, CampaignStatus.SENT, CampaignStatus.SCHEDULED)
SORT_FIELDS = ("created_at", "sent_at")
ORDERS = ("ASC", "DESC")

blueprint = Blueprint("campaigns", __name__)


@blueprint.post("/campaigns")
def create_campaign() -> ResponseReturnValue:
    body = json_body()
    request = campaign_pb2.CreateCampaignRequest(
        user_id=current().user_id,
        name=required_string(body, "name"),
        type=one_of(required_string(body, "type"), "type", CHANNEL_TYPES),
        protect=optional_bool(body, "protect", default=False),
        test=current_caller().test,
        # An extension of v1 (issue 18): the campaign's template starts as a copy of this saved template.
        saved_template_id=saved_templates.template_id_of(body),
    )
    campaign = client.call(backends().campaign.CreateCampaign, request)
    return jsonify(serializers.campaign_meta(campaign)), 201


@blueprint.get("/campaigns")
def list_campaigns() -> ResponseReturnValue:
    request = campaign_pb2.ListCampaignsRequest(
        user_id=current().user_id,
        limit=query_int("limit", default=10, minimum=1, maximum=100),
        offset=query_int("offset", default=0, minimum=0),
        type=query_choice("type", CHANNEL_TYPES),
        status=query_choice("status", LIST_STATUSES),
        name=query_string("name"),
        sort_by=query_choice("sort_by", SORT_FIELDS, default="created_at"),
        order_by=query_choice("order_by", ORDERS, default="DESC"),
    )
    result = client.call(backends().campaign.ListCampaigns, request)
    return jsonify(campaigns=[serializers.campaign_meta(c) for c in result.campaigns],
                   total_count=result.total_count)


def _ref(raw_id: str) -> campaign_pb2.CampaignRef:
    return campaign_pb2.CampaignRef(campaign_id=campaign_id(raw_id), user_id=current().user_id)


@blueprint.put("/campaigns/<campaign_id>")
def update_campaign(campaign_id: str) -> ResponseReturnValue:
    """Renames the campaign. ``should_save_list`` is accepted and ignored: managed lists do not exist here."""
    ref = _ref(campaign_id)
    body = json_body()
    optional_bool(body, "should_save_list", default=False)  # checked for its type, then ignored
    request = campaign_pb2.UpdateCampaignRequest(campaign_id=ref.campaign_id, user_id=ref.user_id,
                                                 name=optional_string(body, "name"))
    campaign = client.call(backends().campaign.UpdateCampaign, request)
    return jsonify(serializers.campaign_meta(campaign))


@blueprint.delete("/campaigns/<campaign_id>")
def delete_campaign(campaign_id: str) -> ResponseReturnValue:
    """Deletes a draft (with its template, uploads and recipients); a sent or scheduled campaign is 403."""
    ref = _ref(campaign_id)
    client.call(backends().campaign.DeleteCampaign, ref)
    audit.record("campaign.deleted", "campaign", ref.campaign_id, {})
    return jsonify(id=str(ref.campaign_id))


@blueprint.post("/campaigns/<campaign_id>/cancel")
def cancel_scheduled_send(campaign_id: str) -> ResponseReturnValue:
    """Cancels a scheduled send that has not been released yet; the campaign is a draft again. No body."""
    ref = _ref(campaign_id)
    client.call(backends().campaign.CancelScheduledSend, ref)
    audit.record("campaign.send_cancelled", "campaign", ref.campaign_id, {})
    return jsonify(id=str(ref.campaign_id))

"""``/v1/campaigns``: create and list campaigns."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2
from postman_gateway import serializers
from postman_gateway.backends import backends
from postman_gateway.validation import (
    json_body,
    one_of,
    optional_bool,
    query_choice,
    query_int,
    query_string,
    required_string,
)
from postman_shared.grpc import client

CHANNEL_TYPES = ("EMAIL", "SMS", "TELEGRAM")
LIST_STATUSES = ("Draft", "Sending", "Sent")
SORT_FIELDS = ("created_at", "sent_at")
ORDERS = ("ASC", "DESC")

blueprint = Blueprint("campaigns", __name__)


@blueprint.post("/campaigns")
def create_campaign() -> ResponseReturnValue:
    body = json_body()
    request = campaign_pb2.CreateCampaignRequest(
        user_id=g.user_id,
        name=required_string(body, "name"),
        type=one_of(required_string(body, "type"), "type", CHANNEL_TYPES),
        protect=optional_bool(body, "protect", default=False),
    )
    campaign = client.call(backends().campaign.CreateCampaign, request)
    return jsonify(serializers.campaign_meta(campaign)), 201


@blueprint.get("/campaigns")
def list_campaigns() -> ResponseReturnValue:
    request = campaign_pb2.ListCampaignsRequest(
        user_id=g.user_id,
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


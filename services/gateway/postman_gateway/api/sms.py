"""``/v1/campaign/{campaignId}/sms/...``: one SMS campaign's details, template, upload, Twilio credentials, preview,
send (at a chosen rate, now or scheduled), retry, stats (read or recounted), export and duplicate; managed lists
are refused. Calling these on a campaign of another channel is refused by the campaign service, naming the
campaign's channel."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2
from postman_gateway.api import channel_routes
from postman_gateway.api.channel_routes import ref
from postman_gateway.core import serializers
from postman_gateway.core.backends import backends
from postman_gateway.core.validation import json_body, required_string
from postman_shared.grpc import client

blueprint = Blueprint("sms", __name__, url_prefix="/campaign/<campaign_id>/sms")


@blueprint.get("")
def get_campaign(campaign_id: str) -> ResponseReturnValue:
    campaign = channel_routes.campaign_of_channel(campaign_id, "SMS")
    return jsonify(serializers.sms_campaign(campaign))


@blueprint.put("/template")
def update_template(campaign_id: str) -> ResponseReturnValue:
    campaign = ref(campaign_id)
    request = campaign_pb2.UpdateSmsTemplateRequest(
        campaign_id=campaign.campaign_id, user_id=campaign.user_id, body=required_string(json_body(), "body"))
    result = client.call(backends().campaign.UpdateSmsTemplate, request)
    return jsonify(serializers.sms_template_result(result))


@blueprint.get("/upload/start")
def start_upload(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.start_upload(campaign_id, "SMS")


@blueprint.post("/upload/complete")
def complete_upload(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.complete_upload(campaign_id, "SMS")


@blueprint.get("/upload/status")
def upload_status(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.upload_status(campaign_id, "SMS")


@blueprint.post("/new-credentials")
def new_credentials(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.new_twilio_credentials(campaign_id)


@blueprint.post("/credentials")
def credentials(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.saved_credentials(campaign_id, "SMS")


@blueprint.get("/preview")
def preview(campaign_id: str) -> ResponseReturnValue:
    result = client.call(backends().campaign.PreviewSms, ref(campaign_id))
    return jsonify(serializers.sms_preview(result))


@blueprint.post("/send")
def send(campaign_id: str) -> ResponseReturnValue:
    body = channel_routes.send_body()
    return channel_routes.send(campaign_id, "SMS", channel_routes.send_rate(body),
                               channel_routes.scheduled_timing(body))


@blueprint.get("/stats")
def stats(campaign_id: str) -> ResponseReturnValue:
    campaign = channel_routes.campaign_of_channel(campaign_id, "SMS")
    return jsonify(serializers.sms_stats(channel_routes.campaign_stats(campaign_id), campaign))


@blueprint.get("/export")
def export(campaign_id: str) -> ResponseReturnValue:
    channel_routes.campaign_of_channel(campaign_id, "SMS")
    return channel_routes.export(campaign_id, serializers.channel_export_row)


@blueprint.delete("/upload/status")
def clear_upload_error(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.clear_upload_error(campaign_id, "SMS")


@blueprint.post("/retry")
def retry(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.retry(campaign_id, "SMS")


@blueprint.post("/stop")
def stop(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.stop(campaign_id, "SMS")


@blueprint.post("/refresh-stats")
def refresh_stats(campaign_id: str) -> ResponseReturnValue:
    campaign = channel_routes.campaign_of_channel(campaign_id, "SMS")
    return jsonify(serializers.sms_stats(channel_routes.refresh_stats(campaign_id), campaign))


@blueprint.post("/duplicate")
def duplicate(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.duplicate(campaign_id, "SMS", name_required=True)


@blueprint.post("/select-list")
def select_list(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.not_on_this_platform(campaign_id, "SMS", "Managed recipient lists")

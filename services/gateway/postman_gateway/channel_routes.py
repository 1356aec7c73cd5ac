"""What every channel's ``/v1/campaign/{id}/<channel>/...`` routes share: the campaign reference, the channel
check of the details route, and the recipient list upload (start, complete, status). The campaign service treats
uploads alike for every channel; only the preview in the status differs, and the serializer shows the one the
campaign service filled."""

from __future__ import annotations

from flask import g, jsonify
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2
from postman_gateway import serializers
from postman_gateway.backends import backends
from postman_gateway.validation import campaign_id, json_body, optional_string, required_query, required_string
from postman_shared.grpc import client
from postman_shared.grpc.errors import InvalidArgument


def ref(raw_id: str) -> campaign_pb2.CampaignRef:
    """The campaign the path names, as the signed-in caller: ownership is the campaign service's decision."""
    return campaign_pb2.CampaignRef(campaign_id=campaign_id(raw_id), user_id=g.user_id)


def campaign_of_channel(raw_id: str, channel: str) -> campaign_pb2.Campaign:
    """The campaign's details, refused (as the campaign service refuses other calls) if it is of another channel."""
    campaign = client.call(backends().campaign.GetCampaign, ref(raw_id))
    if campaign.type != channel:
        raise InvalidArgument(f"Campaign {campaign.id} is an {campaign.type} campaign, not an {channel} campaign; "
                              f"use its {campaign.type.lower()} endpoints")
    return campaign


def start_upload(raw_id: str, channel: str) -> ResponseReturnValue:
    campaign = ref(raw_id)
    request = campaign_pb2.StartUploadRequest(
        campaign_id=campaign.campaign_id,
        user_id=campaign.user_id,
        channel=channel,
        mime_type=required_query("mime_type"),
        md5=required_query("md5"),
    )
    result = client.call(backends().campaign.StartUpload, request)
    return jsonify(presigned_url=result.presigned_url, transaction_id=result.transaction_id)


def complete_upload(raw_id: str, channel: str) -> ResponseReturnValue:
    campaign = ref(raw_id)
    body = json_body()
    request = campaign_pb2.CompleteUploadRequest(
        campaign_id=campaign.campaign_id,
        user_id=campaign.user_id,
        channel=channel,
        transaction_id=required_string(body, "transaction_id"),
        filename=required_string(body, "filename"),
        etag=optional_string(body, "etag") or "",
    )
    result = client.call(backends().campaign.CompleteUpload, request)
    # The sms/telegram contract leaves this body untyped; returning {id} as for email is harmless (§7 of the contract).
    return jsonify(id=str(result.campaign_id or campaign.campaign_id)), 202


def upload_status(raw_id: str, channel: str) -> ResponseReturnValue:
    request = ref(raw_id)
    request.channel = channel
    status = client.call(backends().campaign.GetUploadStatus, request)
    return jsonify(serializers.upload_status(status))

"""``/v1/campaign/{campaignId}/email/...``: one email campaign's details, template, upload, preview, send, stats
and export. Ownership is the campaign service's decision: another user's campaign comes back as ``not_found``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2, stats_pb2
from postman_gateway import audit, channel_routes, limiting, serializers
from postman_gateway.auth import current_caller
from postman_gateway.backends import backends
from postman_gateway.validation import json_body, nullable_string, required_string
from postman_shared.grpc import client
from postman_shared.grpc.errors import from_rpc_error
from postman_shared.logging import get_logger

# An export of a large campaign streams for a while; the deadline only guards against a stuck stats service.
EXPORT_TIMEOUT_SECONDS = 3600.0

blueprint = Blueprint("email", __name__, url_prefix="/campaign/<campaign_id>/email")


_ref = channel_routes.ref


@blueprint.get("")
def get_campaign(campaign_id: str) -> ResponseReturnValue:
    campaign = channel_routes.campaign_of_channel(campaign_id, "EMAIL")
    return jsonify(serializers.email_campaign(campaign))


@blueprint.put("/template")
def update_template(campaign_id: str) -> ResponseReturnValue:
    ref = _ref(campaign_id)
    body = json_body()
    request = campaign_pb2.UpdateEmailTemplateRequest(
        campaign_id=ref.campaign_id,
        user_id=ref.user_id,
        subject=required_string(body, "subject"),
        body=required_string(body, "body"),
        reply_to=nullable_string(body, "reply_to"),
        from_address=required_string(body, "from"),
    )
    result = client.call(backends().campaign.UpdateEmailTemplate, request)
    return jsonify(serializers.template_result(result))


@blueprint.get("/upload/start")
def start_upload(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.start_upload(campaign_id, "EMAIL")


@blueprint.post("/upload/complete")
def complete_upload(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.complete_upload(campaign_id, "EMAIL")


@blueprint.get("/upload/status")
def upload_status(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.upload_status(campaign_id, "EMAIL")


@blueprint.get("/preview")
def preview(campaign_id: str) -> ResponseReturnValue:
    result = client.call(backends().campaign.PreviewEmail, _ref(campaign_id))
    return jsonify(serializers.email_preview(result))


@blueprint.post("/send")
def send(campaign_id: str) -> ResponseReturnValue:
    # The contract's client posts no body, `{}` or an empty form-encoded body: whatever arrives is ignored.
    ref = _ref(campaign_id)
    caller = current_caller()
    limiting.check_send_limit(caller.user_id, caller.rate_limit)
    result = client.call(backends().campaign.SendCampaign, ref)
    audit.record("campaign.sent", "campaign", ref.campaign_id, {"job_ids": list(result.job_ids)})
    return jsonify(serializers.send_result(result))


@blueprint.get("/stats")
def stats(campaign_id: str) -> ResponseReturnValue:
    ref = _ref(campaign_id)
    result = client.call(backends().stats.GetCampaignStats,
                         stats_pb2.StatsRequest(campaign_id=ref.campaign_id, user_id=ref.user_id))
    return jsonify(serializers.email_stats(result))


@blueprint.get("/export")
def export(campaign_id: str) -> ResponseReturnValue:
    """Streams the JSON array as the stats service streams its batches, so memory stays flat for any size.

    The first batch is read before answering: a missing campaign or a redacted one is an error status, not a
    200 with a broken body.
    """
    ref = _ref(campaign_id)
    batches = backends().stats.ExportCampaign(
        stats_pb2.StatsRequest(campaign_id=ref.campaign_id, user_id=ref.user_id),
        # Not wait_for_ready: with stats down, the stream would otherwise wait out its whole deadline; this way
        # the caller gets a prompt 503.
        timeout=EXPORT_TIMEOUT_SECONDS, wait_for_ready=False,
    )
    try:
        first = next(batches, None)
    except grpc.RpcError as exc:
        raise from_rpc_error(exc) from None
    return Response(_json_array(first, batches, ref.campaign_id), mimetype="application/json")


def _json_array(first: Any, batches: Any, campaign: int) -> Iterator[str]:
    try:
        yield "["
        separator = ""
        batch = first
        while batch is not None:
            if batch.rows:
                yield separator + ",".join(json.dumps(serializers.export_row(row)) for row in batch.rows)
                separator = ","
            batch = next(batches, None)
        yield "]"
    except grpc.RpcError as exc:
        # Too late to change the status: the array is left unclosed, so the client cannot mistake it for a
        # complete export.
        get_logger(component="gateway").error("export stream failed", campaign_id=campaign, code=str(exc.code()))
    finally:
        batches.cancel()

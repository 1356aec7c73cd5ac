"""``/v1/campaign/{campaignId}/email/...``: one email campaign's details, template, upload, test email, preview,
send (now or scheduled), retry, stats, export, duplicate and the protected (multipart) upload of a
password-protected campaign; managed lists are refused.
Ownership is the campaign service's decision: another user's campaign comes back as ``not_found``."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2
from postman_gateway.api import channel_routes, test_emails
from postman_gateway.core import serializers
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import api_validation
from postman_gateway.core.validation import (
    json_body,
    nullable_string,
    optional_bool,
    optional_string,
    query_int,
    required_query,
    required_string,
)
from postman_shared.grpc import client

blueprint = Blueprint("email", __name__, url_prefix="/campaign/<campaign_id>/email")


_ref = channel_routes.ref
MAX_PARTS = 100  # Postman's protect/upload/start: part_count 1-100


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
        show_logo=optional_bool(body, "show_logo", True),
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
    # The contract's client posts no body, `{}` or an empty form-encoded body; the upstream server's callers may add
    # `scheduledTiming` (JSON or form). `rate` is ignored for email.
    body = channel_routes.send_body()
    return channel_routes.send(campaign_id, "EMAIL", rate=0, scheduled_at=channel_routes.scheduled_timing(body))


@blueprint.get("/stats")
def stats(campaign_id: str) -> ResponseReturnValue:
    return jsonify(serializers.email_stats(channel_routes.campaign_stats(campaign_id)))


@blueprint.get("/export")
def export(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.export(campaign_id, serializers.export_row)


@blueprint.delete("/upload/status")
def clear_upload_error(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.clear_upload_error(campaign_id, "EMAIL")


@blueprint.post("/credentials")
def credentials(campaign_id: str) -> ResponseReturnValue:
    """A test email of the template to ``recipient``; email always sends with the platform's own credential. It counts
    against the send limit and the campaign's daily test emails, and is simulated for a test key (``test_emails``)."""
    ref = _ref(campaign_id)
    recipient = optional_string(json_body(), "recipient") or ""  # `{}` is invalid_recipient, after the owner check
    test_emails.send_test_email(ref, recipient)
    return jsonify(message="OK")


@blueprint.post("/retry")
def retry(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.retry(campaign_id, "EMAIL")


@blueprint.post("/stop")
def stop(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.stop(campaign_id, "EMAIL")


@blueprint.post("/refresh-stats")
def refresh_stats(campaign_id: str) -> ResponseReturnValue:
    channel_routes.campaign_of_channel(campaign_id, "EMAIL")
    return jsonify(serializers.email_stats(channel_routes.refresh_stats(campaign_id)))


@blueprint.post("/duplicate")
def duplicate(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.duplicate(campaign_id, "EMAIL", name_required=True)


@blueprint.post("/select-list")
def select_list(campaign_id: str) -> ResponseReturnValue:
    return channel_routes.not_on_this_platform(campaign_id, "EMAIL", "Managed recipient lists")


@blueprint.get("/protect/upload/start")
def start_protected_upload(campaign_id: str) -> ResponseReturnValue:
    """A password-protected campaign's file of encrypted messages, in ``part_count`` parts (S3 multipart)."""
    campaign = _ref(campaign_id)
    part_count = query_int("part_count", 1, minimum=1, maximum=MAX_PARTS)
    started = client.call(backends().campaign.StartProtectedUpload, campaign_pb2.StartProtectedUploadRequest(
        campaign_id=campaign.campaign_id, user_id=campaign.user_id, mime_type=required_query("mime_type"),
        part_count=part_count))
    return jsonify(transaction_id=started.transaction_id, presigned_urls=list(started.presigned_urls))


@blueprint.post("/protect/upload/complete")
def complete_protected_upload(campaign_id: str) -> ResponseReturnValue:
    campaign = _ref(campaign_id)
    body = json_body()
    part_count = body.get("part_count")
    if isinstance(part_count, bool) or not isinstance(part_count, int) or not 1 <= part_count <= MAX_PARTS:
        raise api_validation("part_count", f"must be a whole number from 1 to {MAX_PARTS}")
    etags = body.get("etags")
    if not isinstance(etags, list) or not all(isinstance(etag, str) and etag.strip() for etag in etags):
        raise api_validation("etags", "must be a list of the ETags of the parts, in order")
    if len(etags) > MAX_PARTS:
        raise api_validation("etags", f"must hold at most {MAX_PARTS} ETags")
    client.call(backends().campaign.CompleteProtectedUpload, campaign_pb2.CompleteProtectedUploadRequest(
        campaign_id=campaign.campaign_id, user_id=campaign.user_id,
        transaction_id=required_string(body, "transaction_id"), filename=required_string(body, "filename"),
        part_count=part_count, etags=[etag.strip() for etag in etags]))
    return jsonify(transaction_id=body["transaction_id"]), 202

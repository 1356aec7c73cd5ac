"""What every channel's ``/v1/campaign/{id}/<channel>/...`` routes share: the campaign reference, the channel
check of the details route, the recipient list upload (start, complete, status, clearing an error), send (now or
scheduled), retry, stats (read and recounted), export, duplicate, the provider credentials of SMS and Telegram, and
the answer to the features this platform does not have (managed lists, password-protected campaigns). The campaign
service treats uploads alike for every channel; only the preview in the status differs, and the serializer shows the
one the campaign service filled."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import grpc
from flask import Response, jsonify
from flask import request as http_request
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2, senders_pb2, stats_pb2
from postman_gateway.core import audit, export_slots, limiting, serializers
from postman_gateway.core.auth import current_caller
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import ErrorCode
from postman_gateway.core.request_context import current
from postman_gateway.core.validation import (
    MAX_QUERY_INT,
    campaign_id,
    json_body,
    optional_string,
    required_query,
    required_string,
)
from postman_shared.campaign_statuses import JobStatus
from postman_shared.grpc import client
from postman_shared.grpc.errors import InvalidArgument, ServiceError, from_rpc_error
from postman_shared.logging import get_logger
from postman_shared.timestamps import to_timestamp

# An export of a large campaign streams for a while; the deadline only guards against a stuck stats service.
EXPORT_TIMEOUT_SECONDS = 3600.0
# A test message goes to the provider and back; a slow provider must not hold a gateway thread for long.
CREDENTIAL_CHECK_TIMEOUT_SECONDS = 45.0


def ref(raw_id: str) -> campaign_pb2.CampaignRef:
    """The campaign the path names, as the signed-in caller: ownership is the campaign service's decision."""
    return campaign_pb2.CampaignRef(campaign_id=campaign_id(raw_id), user_id=current().user_id)


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


def send_rate(body: dict[str, Any]) -> int:
    """The optional ``rate`` of an SMS or Telegram send: a whole number of messages per second, at least 1."""
    rate = body.get("rate")
    if rate is None:
        return 0
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
        raise ServiceError(ErrorCode.API_VALIDATION, "rate must be a whole number of messages per second, at least 1")
    if rate > MAX_QUERY_INT:  # would not fit the request message: a 500 otherwise
        raise ServiceError(ErrorCode.API_VALIDATION, f"rate must be a whole number of messages per second, at most "
                                                     f"{MAX_QUERY_INT}")
    return rate


def send_body() -> dict[str, Any]:
    """The options of a send: a JSON object, or a form (the email client posts none, and axios then says
    ``application/x-www-form-urlencoded``; the upstream server's callers send ``scheduledTiming`` that way)."""
    if http_request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form: dict[str, Any] = dict(http_request.form.items())
        rate = form.get("rate", "").strip()
        form["rate"] = int(rate) if rate.isdigit() else (rate or None)  # a form's values are text
        return form
    return json_body()


def scheduled_timing(body: dict[str, Any]) -> datetime | None:
    """``scheduledTiming``: an ISO-8601 date-time (without an offset it is read as UTC); absent or empty: now."""
    value = body.get("scheduledTiming")
    if value is None or value == "":
        return None
    problem = '"scheduledTiming" must be an ISO-8601 date-time, like 2026-11-28T09:30:00+08:00'
    if not isinstance(value, str):
        raise ServiceError(ErrorCode.API_VALIDATION, problem)
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ServiceError(ErrorCode.API_VALIDATION, f"{problem}; got {value.strip()[:40]!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def send(raw_id: str, channel: str, rate: int, scheduled_at: datetime | None = None) -> ResponseReturnValue:
    campaign = ref(raw_id)
    caller = current_caller()
    limiting.check_send_limit(caller.user_id, caller.rate_limit)
    request = campaign_pb2.SendCampaignRequest(campaign_id=campaign.campaign_id, user_id=campaign.user_id,
                                               channel=channel, rate=rate, scheduled_at=to_timestamp(scheduled_at),
                                               simulated=caller.test)
    result = client.call(backends().campaign.SendCampaign, request)
    details: dict[str, Any] = {"job_ids": list(result.job_ids), **({"rate": rate} if rate else {})}
    if scheduled_at is not None:
        details["scheduled_at"] = scheduled_at.isoformat()
    audit.record("campaign.sent", "campaign", campaign.campaign_id, details)
    return jsonify(serializers.send_result(result))


def retry(raw_id: str, channel: str) -> ResponseReturnValue:
    """Sends again what failed (and, for a stopped or halted job, what was never sent: the resume); no body, or
    ``{"confirm_halted": true}`` to resume a halted campaign. The send limit applies."""
    body = json_body()
    confirm = body.get("confirm_halted", False)
    if not isinstance(confirm, bool):
        raise ServiceError(ErrorCode.API_VALIDATION, '"confirm_halted" must be true or false')
    result = retry_campaign(ref(raw_id), channel, confirm)
    return jsonify(campaign_id=result.campaign_id)


def retry_campaign(campaign: campaign_pb2.CampaignRef, channel: str,
                   confirm_halted: bool = False) -> campaign_pb2.SendCampaignResponse:
    """Retries (or resumes) the campaign and records it in the audit trail (``campaign.resumed`` when its send was
    stopped or halted); shared by the API and the officers' pages."""
    caller = current_caller()
    limiting.check_send_limit(caller.user_id, caller.rate_limit)
    before = client.call(backends().campaign.GetCampaign, campaign)
    latest = max(before.jobs, key=lambda job: job.id, default=None)
    result = client.call(backends().campaign.RetryCampaign, campaign_pb2.RetryCampaignRequest(
        campaign_id=campaign.campaign_id, user_id=campaign.user_id, channel=channel, confirm_halted=confirm_halted))
    resumed = latest is not None and latest.status == JobStatus.STOPPED
    details: dict[str, Any] = {"job_ids": list(result.job_ids)}
    if before.halted:
        details["confirmed_after_halt"] = before.halt_reason
    audit.record("campaign.resumed" if resumed else "campaign.retried", "campaign", campaign.campaign_id, details)
    return result  # type: ignore[no-any-return]


def stop(raw_id: str, channel: str) -> ResponseReturnValue:
    """Stops sending: no further message of the campaign reaches a provider (within about a second); what was not
    handed over stays unsent, and ``retry`` resumes it."""
    campaign = stop_campaign(ref(raw_id), channel)
    latest = max(campaign.jobs, key=lambda job: job.id, default=None)
    return jsonify(campaign_id=campaign.id, status=latest.status if latest is not None else JobStatus.READY)


def stop_campaign(campaign: campaign_pb2.CampaignRef, channel: str) -> campaign_pb2.Campaign:
    """Stops the campaign's send and records ``campaign.stopped``; shared by the API and the officers' pages."""
    campaign.channel = channel
    stopped = client.call(backends().campaign.StopCampaign, campaign)
    audit.record("campaign.stopped", "campaign", campaign.campaign_id, {})
    return stopped  # type: ignore[no-any-return]


def refresh_stats(raw_id: str) -> stats_pb2.CampaignStats:
    """Recounts the campaign's counters from its messages' outcomes; the same stats as ``campaign_stats``."""
    campaign = ref(raw_id)
    return client.call(backends().stats.RefreshCampaignStats,  # type: ignore[no-any-return]
                       stats_pb2.StatsRequest(campaign_id=campaign.campaign_id, user_id=campaign.user_id))


def duplicate(raw_id: str, channel: str, name_required: bool) -> ResponseReturnValue:
    """A copy of the campaign and its template (not its recipients, not its credential) → 201."""
    campaign = ref(raw_id)
    body = json_body()
    name = required_string(body, "name") if name_required else (optional_string(body, "name") or "")
    copy = duplicate_campaign(campaign, channel, name)
    return jsonify(serializers.campaign_duplicate_meta(copy)), 201


def duplicate_campaign(campaign: campaign_pb2.CampaignRef, channel: str, name: str) -> campaign_pb2.Campaign:
    """Copies the campaign and its template (``name`` empty: "Copy of <name>") and records it in the audit trail;
    shared by the API and the officers' pages."""
    copy = client.call(backends().campaign.DuplicateCampaign, campaign_pb2.DuplicateCampaignRequest(
        campaign_id=campaign.campaign_id, user_id=campaign.user_id, channel=channel, name=name))
    audit.record("campaign.duplicated", "campaign", copy.id, {"from": campaign.campaign_id})
    return copy  # type: ignore[no-any-return]


def clear_upload_error(raw_id: str, channel: str) -> ResponseReturnValue:
    """Clears the error of a failed upload, so the status stops reporting it → ``{id}``."""
    campaign = ref(raw_id)
    campaign.channel = channel
    client.call(backends().campaign.ClearUploadError, campaign)
    return jsonify(id=str(campaign.campaign_id))


def not_on_this_platform(raw_id: str, channel: str, feature: str) -> ResponseReturnValue:
    """Managed lists and password-protected campaigns do not exist here: after the ownership check (another user's
    campaign is 404 like everywhere), a plain 400 that says so and that nothing changed."""
    campaign_of_channel(raw_id, channel)
    raise ServiceError(ErrorCode.INVALID_PARAMETERS, f"{feature} do not exist on this platform, so this call is not "
                                                     "supported; the campaign is unchanged")


def campaign_stats(raw_id: str) -> stats_pb2.CampaignStats:
    campaign = ref(raw_id)
    return client.call(backends().stats.GetCampaignStats,  # type: ignore[no-any-return]
                       stats_pb2.StatsRequest(campaign_id=campaign.campaign_id, user_id=campaign.user_id))


def export(raw_id: str, row: Callable[[stats_pb2.ExportRow], dict[str, Any]]) -> ResponseReturnValue:
    """Streams the JSON array as the stats service streams its batches, so memory stays flat for any size.

    The first batch is read before answering: a missing campaign or a redacted one is an error status, not a
    200 with a broken body.
    """
    campaign = ref(raw_id)

    def respond() -> Response:
        batches = backends().stats.ExportCampaign(
            stats_pb2.StatsRequest(campaign_id=campaign.campaign_id, user_id=campaign.user_id),
            # Not wait_for_ready: with stats down, the stream would otherwise wait out its whole deadline; this
            # way the caller gets a prompt 503.
            timeout=EXPORT_TIMEOUT_SECONDS, wait_for_ready=False,
        )
        try:
            first = next(batches, None)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        return Response(_json_array(first, batches, campaign.campaign_id, row), mimetype="application/json")

    # One of the caller's EXPORTS_PER_USER slots while it streams: exports cannot take every request thread.
    return export_slots.streamed(campaign.user_id, respond)


def _json_array(first: Any, batches: Any, campaign: int,
                row: Callable[[stats_pb2.ExportRow], dict[str, Any]]) -> Iterator[str]:
    try:
        yield "["
        separator = ""
        batch = first
        while batch is not None:
            if batch.rows:
                yield separator + ",".join(json.dumps(row(r)) for r in batch.rows)
                separator = ","
            batch = next(batches, None)
        yield "]"
    except grpc.RpcError as exc:
        # Too late to change the status: the array is left unclosed, so the client cannot mistake it for a
        # complete export.
        get_logger(component="gateway").error("export stream failed", campaign_id=campaign, code=str(exc.code()))
    finally:
        batches.cancel()


def optional_label(body: dict[str, Any]) -> str:
    return (optional_string(body, "label") or "").strip()


def new_twilio_credentials(raw_id: str) -> ResponseReturnValue:
    """Checks a Twilio account with a test SMS to ``recipient``; on success it is stored sealed (saved for reuse
    under ``label`` when given) and assigned to the campaign. The secrets go only to sender-sms."""
    campaign = ref(raw_id)
    channel_campaign = campaign_of_channel(raw_id, "SMS")
    body = json_body()
    add_twilio_credential(
        channel_campaign, campaign.user_id, label=optional_label(body),
        recipient=optional_string(body, "recipient") or "",
        account=senders_pb2.TwilioAccountFields(
            account_sid=optional_string(body, "twilio_account_sid") or "",
            api_key=optional_string(body, "twilio_api_key") or "",
            api_secret=optional_string(body, "twilio_api_secret") or "",
            messaging_service_sid=optional_string(body, "twilio_messaging_service_sid") or "",
        ),
    )
    return jsonify(message="OK")


def add_twilio_credential(campaign: campaign_pb2.Campaign, user_id: int, label: str, recipient: str,
                          account: senders_pb2.TwilioAccountFields) -> senders_pb2.StoredCredential:
    """sender-sms checks ``account`` with a test SMS to ``recipient``, seals and stores it and assigns it to the
    SMS ``campaign``; shared by the API and the officers' pages."""
    request = senders_pb2.AddTwilioCredentialRequest(
        user_id=user_id, campaign_id=campaign.id, label=label, simulated=current_caller().test,
        test_recipient=recipient, account=account)
    stored = client.call(backends().sms_sender.AddTwilioCredential, request,
                         timeout=CREDENTIAL_CHECK_TIMEOUT_SECONDS)
    audit.record("credential.added", "credential", stored.credential_id,
                 {"channel": "SMS", "campaign_id": campaign.id, "label": stored.label or None})
    return stored  # type: ignore[no-any-return]


def new_telegram_credentials(raw_id: str) -> ResponseReturnValue:
    """Checks a bot token with Telegram (getMe) and registers the bot's webhook; on success the token is stored
    sealed (saved for reuse under ``label`` when given) and assigned to the campaign."""
    campaign = ref(raw_id)
    channel_campaign = campaign_of_channel(raw_id, "TELEGRAM")
    body = json_body()
    add_telegram_bot(channel_campaign, campaign.user_id, label=optional_label(body),
                     token=optional_string(body, "telegram_bot_token") or "")
    return jsonify(message="OK")


def add_telegram_bot(campaign: campaign_pb2.Campaign, user_id: int, label: str,
                     token: str) -> senders_pb2.StoredCredential:
    """sender-telegram checks the bot token, seals and stores it and assigns it to the Telegram ``campaign``;
    shared by the API and the officers' pages."""
    token = token.strip()
    if not token:
        raise ServiceError(ErrorCode.INVALID_CREDENTIALS,
                           "telegram_bot_token is required: the token BotFather gave you")
    request = senders_pb2.AddBotRequest(user_id=user_id, campaign_id=campaign.id, label=label, bot_token=token,
                                        simulated=current_caller().test)
    stored = client.call(backends().telegram_sender.AddBot, request, timeout=CREDENTIAL_CHECK_TIMEOUT_SECONDS)
    audit.record("credential.added", "credential", stored.credential_id,
                 {"channel": "TELEGRAM", "campaign_id": campaign.id, "label": stored.label or None})
    return stored  # type: ignore[no-any-return]


def saved_credentials(raw_id: str, channel: str) -> ResponseReturnValue:
    """Uses a saved credential (``label``) for the campaign. For SMS, a test SMS goes to ``recipient`` first."""
    campaign = ref(raw_id)
    channel_campaign = campaign_of_channel(raw_id, channel)
    body = json_body()
    use_saved_credential(channel_campaign, campaign.user_id, optional_label(body),
                         optional_string(body, "recipient") or "")
    return jsonify(message="OK")


def use_saved_credential(campaign: campaign_pb2.Campaign, user_id: int, label: str, recipient: str) -> None:
    """Assigns the user's credential saved under ``label`` to ``campaign`` (of its channel); for SMS a test SMS
    goes to ``recipient`` first. Shared by the API and the officers' pages."""
    if not label:
        raise ServiceError(ErrorCode.INVALID_CREDENTIAL_LABEL, "label is required: the name of your saved credentials")
    found = client.call(backends().campaign.FindCredential, campaign_pb2.FindCredentialRequest(
        user_id=user_id, channel=campaign.type, label=label))
    if campaign.type == "SMS":
        client.call(backends().sms_sender.SendTestSms, senders_pb2.SendTestRequest(
            user_id=user_id, credential_id=found.id, recipient=recipient,
            campaign_id=campaign.id, simulated=current_caller().test),
            timeout=CREDENTIAL_CHECK_TIMEOUT_SECONDS)
    client.call(backends().campaign.AssignCredential, campaign_pb2.AssignCredentialRequest(
        campaign_id=campaign.id, user_id=user_id, credential_id=found.id))


def verify_telegram_credentials(raw_id: str) -> ResponseReturnValue:
    """Sends a test message with the campaign's bot to ``recipient``, a phone number subscribed to the bot."""
    campaign = ref(raw_id)
    channel_campaign = campaign_of_channel(raw_id, "TELEGRAM")
    require_bot(channel_campaign)  # before the body is read: a campaign without a bot is the first thing to say
    send_telegram_test(channel_campaign, campaign.user_id, optional_string(json_body(), "recipient") or "")
    return jsonify(message="OK")


def require_bot(campaign: campaign_pb2.Campaign) -> None:
    if not campaign.credential_id:
        raise ServiceError(ErrorCode.INVALID_CREDENTIALS, "The campaign has no Telegram bot yet; add one with "
                                                          "new-credentials or choose a saved one with credentials")


def send_telegram_test(campaign: campaign_pb2.Campaign, user_id: int, recipient: str) -> None:
    """A test message with the Telegram ``campaign``'s bot to ``recipient``, a phone number subscribed to the bot;
    shared by the API and the officers' pages."""
    require_bot(campaign)
    recipient = recipient.strip()
    if not recipient:
        raise ServiceError(ErrorCode.INVALID_RECIPIENT, "recipient is required: a phone number subscribed to the bot")
    client.call(backends().telegram_sender.SendTestMessage, senders_pb2.SendTestRequest(
        user_id=user_id, credential_id=campaign.credential_id, recipient=recipient,
        campaign_id=campaign.id, simulated=current_caller().test), timeout=CREDENTIAL_CHECK_TIMEOUT_SECONDS)

"""Protobuf messages -> the JSON shapes of the Postman v1 contract (field names are the contract's, exactly)."""

from __future__ import annotations

from typing import Any

from postman.v1 import auth_pb2, campaign_pb2, stats_pb2
from postman_shared.campaign_statuses import JobStatus
from postman_shared.timestamps import to_iso


def _or_none(value: str) -> str | None:
    return value or None


def job_queue(jobs: Any) -> list[dict[str, Any]]:
    """JobQueue items, plus ``scheduled_at`` (an extra key): when a READY job is released, null when sent at once."""
    return [
        {"status": job.status, "sent_at": to_iso(job.sent_at), "status_updated_at": to_iso(job.status_updated_at),
         "scheduled_at": to_iso(job.scheduled_at)}
        for job in jobs
    ]


def campaign_meta(campaign: campaign_pb2.Campaign) -> dict[str, Any]:
    """CampaignMeta: what ``POST /campaigns`` and ``GET /campaigns`` return for a campaign."""
    return {
        "id": campaign.id,
        "name": campaign.name,
        "created_at": to_iso(campaign.created_at),
        "type": campaign.type,
        "has_credential": campaign.has_credential,
        "valid": campaign.valid,
        "halted": campaign.halted,
        "protect": campaign.protect,
        "redacted": campaign.redacted,
        "should_save_list": False,  # managed lists are not implemented
        "job_queue": job_queue(campaign.jobs),
        **halt_details(campaign),
    }


def halt_details(campaign: campaign_pb2.Campaign) -> dict[str, Any]:
    """Why and when the campaign was halted (extra keys; null when it never was)."""
    return {"halt_reason": campaign.halt_reason or None, "halted_at": to_iso(campaign.halted_at)}


def campaign_duplicate_meta(campaign: campaign_pb2.Campaign) -> dict[str, Any]:
    """CampaignDuplicateMeta: ``POST /campaign/{id}/{channel}/duplicate``."""
    return {"id": campaign.id, "name": campaign.name, "type": campaign.type,
            "created_at": to_iso(campaign.created_at), "protect": campaign.protect}


def _email_template(template: campaign_pb2.EmailTemplate) -> dict[str, Any]:
    return {
        "subject": template.subject,
        "body": template.body,
        "reply_to": template.reply_to if template.HasField("reply_to") else None,
        "params": list(template.params),
        "from": template.from_address,
        "show_logo": template.show_logo,
    }


def email_campaign(campaign: campaign_pb2.Campaign) -> dict[str, Any]:
    """EmailCampaign: ``GET /campaign/{id}/email``."""
    return {
        "id": campaign.id,
        "name": campaign.name,
        "created_at": to_iso(campaign.created_at),
        "type": campaign.type,
        "has_credential": campaign.has_credential,
        "valid": campaign.valid,
        "protect": campaign.protect,
        "redacted": campaign.redacted,
        "csv_filename": _or_none(campaign.csv_filename),
        "is_csv_processing": campaign.is_csv_processing,
        "num_recipients": campaign.num_recipients,
        "job_queue": job_queue(campaign.jobs),
        "email_templates": _email_template(campaign.email_template) if campaign.HasField("email_template") else None,
        "halted": campaign.halted,
        **halt_details(campaign),
    }


def _sms_template(template: campaign_pb2.SmsTemplate, with_segments: bool = False) -> dict[str, Any]:
    """ChannelTemplate; the template PUT adds ``segments`` and ``encoding`` (extra keys beyond the contract)."""
    body: dict[str, Any] = {"body": template.body, "params": list(template.params)}
    if with_segments:
        body.update(segments=template.segments, encoding=template.encoding)
    return body


def sms_campaign(campaign: campaign_pb2.Campaign) -> dict[str, Any]:
    """SMSCampaign: ``GET /campaign/{id}/sms`` (no ``protect``; ``cost_per_message`` is not reported: Twilio's price
    of a message is not known when it is sent). ``sms_templates`` also says how many parts the template takes."""
    return {
        "id": campaign.id,
        "name": campaign.name,
        "created_at": to_iso(campaign.created_at),
        "type": campaign.type,
        "has_credential": campaign.has_credential,
        "valid": campaign.valid,
        "redacted": campaign.redacted,
        "csv_filename": _or_none(campaign.csv_filename),
        "is_csv_processing": campaign.is_csv_processing,
        "num_recipients": campaign.num_recipients,
        "job_queue": job_queue(campaign.jobs),
        "sms_templates": (_sms_template(campaign.sms_template, with_segments=True)
                          if campaign.HasField("sms_template") else None),
        "halted": campaign.halted,
        **halt_details(campaign),
    }


def telegram_campaign(campaign: campaign_pb2.Campaign) -> dict[str, Any]:
    """``GET /campaign/{id}/telegram``: the client's wrapper ``{campaign, num_recipients}``; the flat fields are
    repeated at the top level for callers written against the upstream server (contract section 7)."""
    details = {
        "id": campaign.id,
        "name": campaign.name,
        "created_at": to_iso(campaign.created_at),
        "type": campaign.type,
        "has_credential": campaign.has_credential,
        "valid": campaign.valid,
        "redacted": campaign.redacted,
        "csv_filename": _or_none(campaign.csv_filename),
        "is_csv_processing": campaign.is_csv_processing,
        "job_queue": job_queue(campaign.jobs),
        "telegram_templates": (_sms_template(campaign.telegram_template)
                               if campaign.HasField("telegram_template") else None),
        "halted": campaign.halted,
        **halt_details(campaign),
    }
    return {"campaign": details, "num_recipients": campaign.num_recipients, **details}


def telegram_template_result(result: campaign_pb2.UpdateTemplateResponse) -> dict[str, Any]:
    """TemplateResult: ``PUT /campaign/{id}/telegram/template``; ``template`` is required."""
    body: dict[str, Any] = {
        "message": result.message,
        "valid": result.valid,
        "num_recipients": result.num_recipients,
        "template": _sms_template(result.sms_template),
    }
    if result.extra_keys:
        body["extra_keys"] = list(result.extra_keys)
    return body


def template_result(result: campaign_pb2.UpdateTemplateResponse) -> dict[str, Any]:
    """TemplateResult: ``PUT /campaign/{id}/email/template``; ``extra_keys`` only when there are some."""
    body: dict[str, Any] = {
        "message": result.message,
        "valid": result.valid,
        "num_recipients": result.num_recipients,
        "template": _email_template(result.template),
    }
    if result.extra_keys:
        body["extra_keys"] = list(result.extra_keys)
    return body


def sms_template_result(result: campaign_pb2.UpdateTemplateResponse) -> dict[str, Any]:
    """TemplateResult: ``PUT /campaign/{id}/sms/template``; ``template`` is required, with its segment count."""
    body: dict[str, Any] = {
        "message": result.message,
        "valid": result.valid,
        "num_recipients": result.num_recipients,
        "template": _sms_template(result.sms_template, with_segments=True),
    }
    if result.extra_keys:
        body["extra_keys"] = list(result.extra_keys)
    return body


def _sms_preview(preview: campaign_pb2.SmsPreview) -> dict[str, Any]:
    """``{body}`` of the contract, plus (SMS) how many SMS parts the message takes and in which encoding."""
    if not preview.encoding:  # Telegram: no segments
        return {"body": preview.body}
    return {"body": preview.body, "segments": preview.segments, "encoding": preview.encoding}


def sms_preview(preview: campaign_pb2.SmsPreview) -> dict[str, Any]:
    """ChannelPreview: ``GET /campaign/{id}/sms/preview``."""
    return {"preview": _sms_preview(preview)}


def upload_status(status: campaign_pb2.UploadStatus) -> dict[str, Any]:
    """UploadStatus, leaving out what is unset. The email preview's keys are camelCase, as in the contract."""
    body: dict[str, Any] = {"is_csv_processing": status.is_csv_processing, "num_recipients": status.num_recipients}
    for key in ("csv_filename", "temp_csv_filename", "csv_error"):
        if getattr(status, key):
            body[key] = getattr(status, key)
    if status.HasField("preview"):
        preview = status.preview
        body["preview"] = {
            "subject": preview.subject,
            "body": preview.body,
            "replyTo": preview.reply_to if preview.HasField("reply_to") else None,
            "from": getattr(preview, "from"),
            "showMasthead": preview.show_masthead,
            "agencyLogoURI": preview.agency_logo_uri,
            "agencyName": preview.agency_name,
            "themedBody": preview.themed_body,
        }
    elif status.HasField("sms_preview"):
        body["preview"] = _sms_preview(status.sms_preview)
    return body


def email_preview(preview: campaign_pb2.EmailPreview) -> dict[str, Any]:
    """EmailPreview: ``GET /campaign/{id}/email/preview`` (snake_case keys, unlike the upload status preview)."""
    return {
        "preview": {
            "body": preview.body,
            "subject": preview.subject,
            "reply_to": preview.reply_to if preview.HasField("reply_to") else None,
            "from": getattr(preview, "from"),
            "themed_body": preview.themed_body,
        }
    }


def send_result(result: campaign_pb2.SendCampaignResponse) -> dict[str, Any]:
    return {"campaign_id": result.campaign_id, "job_id": list(result.job_ids)}


# What happened after the provider took the messages (extra keys): details of sent and invalid.
OUTCOME_DETAILS = ("delivered", "opened", "hard_bounced", "soft_bounced", "complained", "blacklisted", "invalid_rows")


def email_stats(stats: stats_pb2.CampaignStats) -> dict[str, Any]:
    """EmailCampaignStats: ``GET /campaign/{id}/email/stats``; unsent + sent + error + invalid + unsubscribed =
    recipients. The extra ``outcomes`` object details sent (delivered, opened) and invalid (bounced, complained,
    blacklisted, the file's invalid rows)."""
    return {
        "error": stats.error,
        "unsent": stats.unsent,
        "sent": stats.sent,
        "invalid": stats.invalid,
        "unsubscribed": stats.unsubscribed,
        "halted": stats.halted,
        "redacted": stats.redacted,
        "status": stats.status or JobStatus.READY,
        "updated_at": to_iso(stats.updated_at),
        "outcomes": {name: getattr(stats, name) for name in OUTCOME_DETAILS},
    }


def channel_stats(stats: stats_pb2.CampaignStats) -> dict[str, Any]:
    """CampaignStats: ``GET /campaign/{id}/{sms,telegram}/stats``; ``unsubscribed`` (an extra key here: numbers that
    replied STOP, people who blocked the bot) keeps the counters adding up to the recipients."""
    return email_stats(stats)


def sms_stats(stats: stats_pb2.CampaignStats, campaign: campaign_pb2.Campaign) -> dict[str, Any]:
    """CampaignStats plus how many SMS parts the template takes (``segments``, ``encoding``: extra keys), so the
    parts billed are ``sent`` x ``segments`` for a message that values do not lengthen."""
    body = channel_stats(stats)
    if campaign.HasField("sms_template"):
        body.update(segments=campaign.sms_template.segments, encoding=campaign.sms_template.encoding)
    return body


def channel_export_row(row: stats_pb2.ExportRow) -> dict[str, Any]:
    """CampaignRecipient: an SMS or Telegram export row (``error_sub_type``: an extra key)."""
    return {
        "recipient": row.recipient,
        "status": row.status,
        "error_code": _or_none(row.error_code),
        "updated_at": to_iso(row.updated_at),
        "error_sub_type": _or_none(row.error_sub_type),
    }


def export_row(row: stats_pb2.ExportRow) -> dict[str, Any]:
    """EmailExportRow: the unsubscriber fields are set when the recipient unsubscribed through this campaign's link
    (with the reason they gave); ``error_sub_type`` (an extra key) is a bounce's sub-type or a complaint's type."""
    return {
        "recipient": row.recipient,
        "status": row.status,
        "error_code": _or_none(row.error_code),
        "updated_at": to_iso(row.updated_at),
        "unsubscriber.recipient": _or_none(row.unsubscriber_recipient),
        "unsubscriber.reason": row.unsubscriber_reason if row.unsubscriber_recipient else None,
        "error_sub_type": _or_none(row.error_sub_type),
    }


def user_info(user_id: int, email: str, rate_limit: int, authenticated_by: str) -> dict[str, Any]:
    """``GET /auth/userinfo`` and ``POST /auth/login``: who is signed in, and how this request was authenticated."""
    return {"id": user_id, "email": email, "rate_limit": rate_limit, "authenticated_by": authenticated_by}


def api_key(key: auth_pb2.ApiKeyInfo) -> dict[str, Any]:
    """An API key as listed: never the key itself, only its last five characters."""
    return {
        "id": key.id,
        "label": key.label,
        "last_five": key.last_five,
        "created_at": to_iso(key.created_at),
        "last_used_at": to_iso(key.last_used_at),
        "expires_at": to_iso(key.expires_at),
        "test": key.test,
        "notification_contacts": list(key.notification_contacts),
    }

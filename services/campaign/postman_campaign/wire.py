"""Conversions from the campaign service's views to its protobuf messages."""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import parseaddr
from typing import Any

from postman.v1 import campaign_pb2
from postman_campaign.campaigns import CampaignView
from postman_campaign.models import EmailTemplate, Job, SavedTemplate, SmsTemplate, TelegramTemplate
from postman_campaign.previews import EmailPreview, SmsPreview
from postman_campaign.provider_credentials import CredentialInfo
from postman_campaign.uploads import UploadStatusView
from postman_shared.timestamps import to_timestamp


def job(j: Job) -> campaign_pb2.Job:
    return campaign_pb2.Job(id=j.id, status=j.status, sent_at=to_timestamp(j.sent_at),
                            status_updated_at=to_timestamp(j.status_updated_at), send_rate=j.send_rate or 0,
                            scheduled_at=to_timestamp(j.scheduled_at), retry_of=j.retry_of or 0,
                            simulated=j.simulated)


def email_template(t: EmailTemplate) -> campaign_pb2.EmailTemplate:
    return campaign_pb2.EmailTemplate(subject=t.subject, body=t.body, reply_to=t.reply_to,
                                      from_address=t.from_address, params=list(t.params or ()),
                                      show_logo=t.show_logo is not False)


def sms_template(t: SmsTemplate, segments: int = 0, encoding: str = "") -> campaign_pb2.SmsTemplate:
    return campaign_pb2.SmsTemplate(body=t.body, params=list(t.params or ()), segments=segments, encoding=encoding)


def campaign(view: CampaignView) -> campaign_pb2.Campaign:
    c = view.campaign
    t = view.template
    return campaign_pb2.Campaign(
        id=c.id, user_id=c.user_id, name=c.name, type=c.type, created_at=to_timestamp(c.created_at),
        # Email campaigns send through the platform's own transport: its default credential always applies.
        has_credential=c.type == "EMAIL" or c.credential_id is not None,
        credential_id=c.credential_id or 0, test=c.test,
        valid=view.valid, halted=c.halted, protect=c.protect, redacted=c.redacted,
        halt_reason=c.halt_reason or "", halted_at=to_timestamp(c.halted_at), redacted_at=to_timestamp(c.redacted_at),
        sender_name=_sender_name(t) if isinstance(t, EmailTemplate) else "",
        csv_filename=c.csv_filename or "", is_csv_processing=view.is_csv_processing,
        num_recipients=c.num_recipients, num_invalid=c.num_invalid,
        jobs=[job(j) for j in view.jobs],
        email_template=email_template(t) if isinstance(t, EmailTemplate) else None,
        sms_template=sms_template(t, t.segments, t.encoding) if isinstance(t, SmsTemplate) else None,
        telegram_template=telegram_template(t) if isinstance(t, TelegramTemplate) else None,
    )


def _sender_name(t: EmailTemplate) -> str:
    name, address = parseaddr(t.from_address or "")
    return name or address


def telegram_template(t: TelegramTemplate) -> campaign_pb2.SmsTemplate:
    return campaign_pb2.SmsTemplate(body=t.body, params=list(t.params or ()))


def credential(info: CredentialInfo) -> campaign_pb2.CredentialInfo:
    return campaign_pb2.CredentialInfo(id=info.id, user_id=info.user_id, channel=info.channel, label=info.label,
                                       description=info.description, created_at=to_timestamp(info.created_at))


def email_preview(p: EmailPreview) -> campaign_pb2.EmailPreview:
    return campaign_pb2.EmailPreview(subject=p.subject, body=p.body, reply_to=p.reply_to, show_masthead=p.show_masthead,
                                     agency_logo_uri=p.agency_logo_uri, agency_name=p.agency_name,
                                     themed_body=p.themed_body, **{"from": p.from_address})


def sms_preview(p: SmsPreview) -> campaign_pb2.SmsPreview:
    return campaign_pb2.SmsPreview(body=p.body, segments=p.segments, encoding=p.encoding)


def upload_status(s: UploadStatusView) -> campaign_pb2.UploadStatus:
    return campaign_pb2.UploadStatus(
        is_csv_processing=s.is_csv_processing, csv_filename=s.csv_filename, temp_csv_filename=s.temp_csv_filename,
        csv_error=s.csv_error, num_recipients=s.num_recipients, rows_processed=s.rows_processed,
        preview=email_preview(s.preview) if isinstance(s.preview, EmailPreview) else None,
        sms_preview=sms_preview(s.preview) if isinstance(s.preview, SmsPreview) else None,
    )


def recipient_batch(rows: Sequence[Any]) -> campaign_pb2.RecipientBatch:
    return campaign_pb2.RecipientBatch(recipients=[
        campaign_pb2.Recipient(
            id=r.id, recipient=r.recipient, valid=r.valid, line=r.line,
            params={k: v if isinstance(v, str) else ("" if v is None else str(v)) for k, v in (r.params or {}).items()},
        )
        for r in rows
    ])


def saved_template(t: SavedTemplate) -> campaign_pb2.SavedTemplate:
    return campaign_pb2.SavedTemplate(
        id=t.id, user_id=t.user_id, channel=t.channel, name=t.name, subject=t.subject or "", body=t.body,
        reply_to=t.reply_to, from_address=t.from_address or "", show_logo=t.show_logo is not False,
        params=list(t.params or ()), created_at=to_timestamp(t.created_at), updated_at=to_timestamp(t.updated_at))

"""Previews: the saved template rendered with the first valid recipient of the committed list; an email also as it
arrives, in the theme of its owner's agency (the renderer asks auth which)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postman_campaign.campaigns import TEMPLATE_MODELS, ensure_channel, owned_campaign
from postman_campaign.models import Campaign, EmailTemplate, Recipient, SmsTemplate, TelegramTemplate
from postman_campaign.renderer_client import Renderer
from postman_campaign.retention import redacted_error
from postman_shared.db import Database
from postman_shared.grpc.errors import InvalidArgument


@dataclass(frozen=True)
class EmailPreview:
    subject: str
    body: str  # the template's body rendered
    reply_to: str | None
    from_address: str
    themed_body: str = ""  # the whole email: the body in the theme
    text: str = ""  # its plain-text part
    agency_name: str = ""
    agency_logo_uri: str = ""  # "" when no logo is shown
    show_masthead: bool = False


@dataclass(frozen=True)
class SmsPreview:
    body: str
    segments: int  # SMS parts this rendered message is sent as
    encoding: str


@dataclass(frozen=True)
class PreviewSource:
    """What a preview is made of, read in one short session so the renderer call holds no connection."""

    template: EmailTemplate | SmsTemplate | TelegramTemplate
    params: dict[str, str]
    user_id: int  # the campaign's owner: whose agency an email's theme shows


def template_of(session: Session, campaign: Campaign) -> EmailTemplate | SmsTemplate | TelegramTemplate | None:
    """The saved template of the campaign's channel, if any."""
    model = TEMPLATE_MODELS.get(campaign.type)
    return session.get(model, campaign.id) if model is not None else None


def preview_source(session: Session, campaign: Campaign) -> PreviewSource | None:
    """The template and the first valid recipient's values, or None when either is missing."""
    template = template_of(session, campaign)
    if template is None:
        return None
    row = session.execute(
        select(Recipient.recipient, Recipient.params)
        .where(Recipient.campaign_id == campaign.id, Recipient.valid.is_(True))
        .order_by(Recipient.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    return PreviewSource(template=template, params=as_strings(row.params, row.recipient), user_id=campaign.user_id)


def as_strings(params: dict[str, Any] | None, recipient: str) -> dict[str, str]:
    values = {str(k): "" if v is None else str(v) for k, v in (params or {}).items()}
    values["recipient"] = recipient  # the normalised address, as it will be sent to
    return values


def render(renderer: Renderer, source: PreviewSource) -> EmailPreview | SmsPreview:
    t = source.template
    if isinstance(t, SmsTemplate):
        rendered = renderer.render_preview("SMS", "", t.body, source.params)
        return SmsPreview(body=rendered.body, segments=rendered.segments, encoding=rendered.encoding)
    if isinstance(t, TelegramTemplate):
        rendered = renderer.render_preview("TELEGRAM", "", t.body, source.params)
        return SmsPreview(body=rendered.body, segments=0, encoding="")
    rendered = renderer.render_preview("EMAIL", t.subject, t.body, source.params, source.user_id,
                                       t.show_logo is not False)
    return EmailPreview(subject=rendered.subject, body=rendered.body, reply_to=t.reply_to,
                        from_address=t.from_address, themed_body=rendered.themed_body, text=rendered.text,
                        agency_name=rendered.agency_name, agency_logo_uri=rendered.agency_logo_uri,
                        show_masthead=rendered.show_masthead)


def _preview(database: Database, renderer: Renderer, campaign_id: int, user_id: int,
             channel: str) -> EmailPreview | SmsPreview:
    with database.unit_of_work() as session:  # not session(): its rollback would expire what is returned
        campaign = owned_campaign(session, campaign_id, user_id)
        ensure_channel(campaign, channel)
        if campaign.redacted:
            raise redacted_error(campaign_id, campaign.redacted_at)
        if template_of(session, campaign) is None:
            raise InvalidArgument("There is no template to preview; please save a template first")
        source = preview_source(session, campaign)
    if source is None:
        raise InvalidArgument("There are no valid recipients to preview with; please upload a recipient list")
    return render(renderer, source)


def preview_email(database: Database, renderer: Renderer, campaign_id: int, user_id: int) -> EmailPreview:
    preview = _preview(database, renderer, campaign_id, user_id, "EMAIL")
    assert isinstance(preview, EmailPreview)
    return preview


def preview_sms(database: Database, renderer: Renderer, campaign_id: int, user_id: int) -> SmsPreview:
    preview = _preview(database, renderer, campaign_id, user_id, "SMS")
    assert isinstance(preview, SmsPreview)
    return preview


def preview_telegram(database: Database, renderer: Renderer, campaign_id: int, user_id: int) -> SmsPreview:
    preview = _preview(database, renderer, campaign_id, user_id, "TELEGRAM")
    assert isinstance(preview, SmsPreview)
    return preview

"""Previews: the saved template rendered with the first valid recipient of the committed list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postman_campaign.campaigns import owned_campaign
from postman_campaign.models import EmailTemplate, Recipient
from postman_campaign.renderer_client import Renderer
from postman_shared.db import Database
from postman_shared.grpc.errors import InvalidArgument


@dataclass(frozen=True)
class EmailPreview:
    subject: str
    body: str
    reply_to: str | None
    from_address: str


@dataclass(frozen=True)
class PreviewSource:
    """What a preview is made of, read in one short session so the renderer call holds no connection."""

    template: EmailTemplate
    params: dict[str, str]


def preview_source(session: Session, campaign_id: int) -> PreviewSource | None:
    """The template and the first valid recipient's values, or None when either is missing."""
    template = session.get(EmailTemplate, campaign_id)
    if template is None:
        return None
    row = session.execute(
        select(Recipient.recipient, Recipient.params)
        .where(Recipient.campaign_id == campaign_id, Recipient.valid.is_(True))
        .order_by(Recipient.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    return PreviewSource(template=template, params=as_strings(row.params, row.recipient))


def as_strings(params: dict[str, Any] | None, recipient: str) -> dict[str, str]:
    values = {str(k): "" if v is None else str(v) for k, v in (params or {}).items()}
    values["recipient"] = recipient  # the normalised address, as it will be sent to
    return values


def render(renderer: Renderer, source: PreviewSource) -> EmailPreview:
    t = source.template
    rendered = renderer.render_preview("EMAIL", t.subject, t.body, source.params)
    return EmailPreview(subject=rendered.subject, body=rendered.body, reply_to=t.reply_to,
                        from_address=t.from_address)


def preview_email(database: Database, renderer: Renderer, campaign_id: int, user_id: int) -> EmailPreview:
    with database.unit_of_work() as session:  # not session(): its rollback would expire what is returned
        owned_campaign(session, campaign_id, user_id)
        if session.get(EmailTemplate, campaign_id) is None:
            raise InvalidArgument("There is no template to preview; please save a template first")
        source = preview_source(session, campaign_id)
    if source is None:
        raise InvalidArgument("There are no valid recipients to preview with; please upload a recipient list")
    return render(renderer, source)

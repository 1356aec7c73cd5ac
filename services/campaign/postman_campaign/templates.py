"""The template of a campaign (email or SMS): validated and sanitised by the renderer, then saved.

The renderer call happens before the transaction opens, so no database connection waits on the network. A template
larger than its channel allows (``template_limits``) is refused before the renderer sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from postman_campaign.campaigns import CampaignView, ensure_channel, ensure_not_sent, owned_campaign, views_of
from postman_campaign.models import EmailTemplate, SmsTemplate, TelegramTemplate
from postman_campaign.protected_file import LINK_KEY, RECIPIENT_KEYS
from postman_campaign.renderer_client import Renderer
from postman_shared import sender_rule
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument
from postman_shared.logging import get_logger
from postman_shared.sender_client import VerifiedSenders, lookup_for
from postman_shared.template_limits import TemplateLimits
from postman_shared.timestamps import utcnow
from postman_shared.validators import is_valid_email

log = get_logger(component="templates")


@dataclass(frozen=True)
class TemplateChange:
    subject: str
    body: str
    reply_to: str | None
    from_address: str
    show_logo: bool = True  # the agency's logo in the email's theme


@dataclass(frozen=True)
class TemplateUpdated:
    message: str
    valid: bool
    num_recipients: int
    extra_keys: list[str]
    template: EmailTemplate | SmsTemplate | TelegramTemplate
    segments: int = 0  # SMS only: parts the template is sent as
    encoding: str = ""  # SMS only


def check_change(change: TemplateChange, default_from: str,
                 verified: Collection[str] | Callable[[], Collection[str]] = ()) -> TemplateChange:
    """The change with defaults applied; raises a clear error for a missing or malformed field. The From must be
    the default address or one of the user's ``verified`` ones (``sender_rule``) and is stored as it will be sent
    ("<name> via Postman <default>")."""
    if not change.subject.strip():
        raise InvalidArgument("subject is required", code=ErrorCode.API_VALIDATION)
    if not change.body.strip():
        raise InvalidArgument("body is required", code=ErrorCode.API_VALIDATION)
    from_address = sender_rule.allowed_sender(change.from_address, default_from, verified).header
    reply_to = (change.reply_to or "").strip() or None
    if reply_to is not None and not is_valid_email(reply_to):
        raise InvalidArgument(f"reply_to {reply_to!r} is not a valid email address")
    return TemplateChange(subject=change.subject, body=change.body, reply_to=reply_to, from_address=from_address,
                          show_logo=change.show_logo)


def update_email_template(database: Database, renderer: Renderer, default_from: str, campaign_id: int,
                          user_id: int, change: TemplateChange,
                          senders: VerifiedSenders | None = None,
                          limits: TemplateLimits = TemplateLimits()) -> TemplateUpdated:
    protect = _check_editable(database, campaign_id, user_id, "EMAIL")
    check_size(limits, "EMAIL", subject=change.subject, body=change.body)
    change = check_change(change, default_from, lookup_for(senders, user_id) if senders is not None else ())
    validated = renderer.validate_template("EMAIL", change.subject, change.body)
    if protect:
        check_protected_keys(validated.params)
    with database.unit_of_work() as session:
        campaign = owned_campaign(session, campaign_id, user_id, lock=True)
        ensure_channel(campaign, "EMAIL")
        ensure_not_sent(session, campaign_id)
        template = _save(session, campaign_id, validated.subject, validated.body, validated.params, change)
        view = views_of(session, [campaign])[0]
    log.info("template updated", campaign_id=campaign_id, params=template.params)
    return _outcome(template, view)


def update_sms_template(database: Database, renderer: Renderer, campaign_id: int, user_id: int,
                        body: str, limits: TemplateLimits = TemplateLimits()) -> TemplateUpdated:
    """Saves the SMS template; the result says how many SMS parts it takes and in which encoding."""
    return _update_text_template(database, renderer, campaign_id, user_id, body, "SMS", limits)


def update_telegram_template(database: Database, renderer: Renderer, campaign_id: int, user_id: int,
                             body: str, limits: TemplateLimits = TemplateLimits()) -> TemplateUpdated:
    """Saves the Telegram template, its HTML reduced to the tags Telegram accepts."""
    return _update_text_template(database, renderer, campaign_id, user_id, body, "TELEGRAM", limits)


def check_size(limits: TemplateLimits, channel: str, **fields: str) -> None:
    """Raises a 400 naming the field and the limit when a field of a ``channel`` template is too large, before the
    renderer spends any work on it."""
    for name, text in fields.items():
        problem = limits.problem(channel, text)
        if problem is not None:
            raise InvalidArgument(f'"{name}" {problem}', code=ErrorCode.API_VALIDATION)


def _update_text_template(database: Database, renderer: Renderer, campaign_id: int, user_id: int, body: str,
                          channel: str, limits: TemplateLimits) -> TemplateUpdated:
    _check_editable(database, campaign_id, user_id, channel)
    check_size(limits, channel, body=body)
    if not body.strip():
        raise InvalidArgument("body is required", code=ErrorCode.API_VALIDATION)
    validated = renderer.validate_template(channel, "", body)
    model = SmsTemplate if channel == "SMS" else TelegramTemplate
    with database.unit_of_work() as session:
        campaign = owned_campaign(session, campaign_id, user_id, lock=True)
        ensure_channel(campaign, channel)
        ensure_not_sent(session, campaign_id)
        template = session.get(model, campaign_id)
        if template is None:
            template = model(campaign_id=campaign_id)
            session.add(template)
        template.body = validated.body
        template.params = list(validated.params)
        if isinstance(template, SmsTemplate):
            template.segments, template.encoding = validated.segments, validated.encoding
        template.updated_at = utcnow()
        session.flush()
        view = views_of(session, [campaign])[0]
    log.info("template updated", channel=channel, campaign_id=campaign_id, params=template.params,
             segments=validated.segments or None)
    return replace(_outcome(template, view), segments=validated.segments, encoding=validated.encoding)


def _check_editable(database: Database, campaign_id: int, user_id: int, channel: str) -> bool:
    """Raises unless the caller may edit the campaign's template; returns whether it is password-protected."""
    with database.session() as session:
        # Ownership and "already sent" first: another user's campaign is NotFound whatever the template says.
        campaign = owned_campaign(session, campaign_id, user_id)
        ensure_channel(campaign, channel)
        ensure_not_sent(session, campaign_id)
        return bool(campaign.protect)


def check_protected_keys(params: list[str]) -> None:
    """A password-protected campaign's email carries only the link: it must use {{protectedlink}} and may use no
    other key than {{recipient}}, because the content lives in the encrypted messages (Postman's rule)."""
    allowed = set(RECIPIENT_KEYS)
    others = [key for key in params if key not in allowed]
    if others:
        names = ", ".join(f"{{{{{key}}}}}" for key in others)
        raise InvalidArgument(f"A password-protected email may use only {{{{recipient}}}} and {{{{protectedlink}}}}: "
                              f"remove {names} (the content belongs in the encrypted messages)",
                              code=ErrorCode.INVALID_TEMPLATE)
    if LINK_KEY not in params:
        raise InvalidArgument("A password-protected email must contain {{protectedlink}}: the link to the "
                              "encrypted message", code=ErrorCode.INVALID_TEMPLATE)


def _save(session: Session, campaign_id: int, subject: str, body: str, params: list[str],
          change: TemplateChange) -> EmailTemplate:
    template = session.get(EmailTemplate, campaign_id)
    if template is None:
        template = EmailTemplate(campaign_id=campaign_id)
        session.add(template)
    template.subject = subject
    template.body = body
    template.params = list(params)
    template.reply_to = change.reply_to
    template.from_address = change.from_address
    template.show_logo = change.show_logo
    template.updated_at = utcnow()
    session.flush()
    return template


def _outcome(template: EmailTemplate | SmsTemplate | TelegramTemplate, view: CampaignView) -> TemplateUpdated:
    csv_filename, num_recipients = view.campaign.csv_filename, view.campaign.num_recipients
    missing_keys = view.missing_keys
    if not csv_filename:
        return TemplateUpdated("Template updated; please upload a recipient list", False, 0, [], template)
    if missing_keys:
        keys = ", ".join(missing_keys)
        message = (f"Template updated, but the recipient list {csv_filename!r} has no column for: {keys}. "
                   "Please upload a recipient list with these columns")
        return TemplateUpdated(message, False, num_recipients, missing_keys, template)
    return TemplateUpdated("Template updated", view.valid, num_recipients, [], template)

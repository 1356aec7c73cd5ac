"""Saved templates (issue 18): an officer's message kept under a name, per channel, to start new campaigns from.

A saved template holds exactly the fields of its channel's campaign template (email: subject, body, reply-to, From,
logo; SMS and Telegram: body) and passes the same checks when it is written: the size limits, the From rule, the
renderer's validation, which sanitises the HTML and lists the keys. The password-protected rule does not apply: a
template belongs to no campaign. Like the renderer call of a campaign's template, validation happens before the
transaction opens. Every use case is scoped by the owner: another user's template is NotFound, as a campaign is.

Starting a campaign from a template copies its fields into the new campaign's template: later edits to either never
reach the other. Saving a campaign's message as a template copies the other way.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from postman_campaign.campaigns import CHANNELS, CampaignView, create_campaign, get_campaign, owned_campaign
from postman_campaign.models import EmailTemplate, SavedTemplate, SmsTemplate, TelegramTemplate
from postman_campaign.previews import template_of
from postman_campaign.renderer_client import Renderer
from postman_campaign.templates import TemplateChange, check_change, check_size
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, NotFound
from postman_shared.logging import get_logger
from postman_shared.sender_client import VerifiedSenders, lookup_for
from postman_shared.template_limits import TemplateLimits
from postman_shared.timestamps import utcnow

MAX_NAME_LENGTH = 100
CHANNEL_WORDS = {"EMAIL": "email", "SMS": "SMS", "TELEGRAM": "Telegram"}

log = get_logger(component="saved_templates")


@dataclass(frozen=True)
class TemplateFields:
    """What an officer writes: a name and the channel's template fields (``subject``, ``reply_to``,
    ``from_address`` and ``show_logo`` are for email only and ignored otherwise)."""

    name: str
    channel: str
    body: str
    subject: str = ""
    reply_to: str | None = None
    from_address: str = ""
    show_logo: bool = True


@dataclass(frozen=True)
class TemplateRules:
    """What checking a template needs besides its fields: the renderer, the platform's default From, the user's
    verified From addresses, the size limits."""

    renderer: Renderer
    default_from: str
    senders: VerifiedSenders | None = None  # None: only the default From is allowed
    limits: TemplateLimits = TemplateLimits()


def checked_name(name: str) -> str:
    """A template name, trimmed: 1 to 100 characters."""
    name = name.strip()
    if not name:
        raise InvalidArgument("name is required: what the template is called in your list",
                              code=ErrorCode.API_VALIDATION)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"name must be at most {MAX_NAME_LENGTH} characters", code=ErrorCode.API_VALIDATION)
    return name


def checked_channel(channel: str) -> str:
    channel = channel.strip().upper()
    if channel not in CHANNELS:
        raise InvalidArgument(f"channel must be one of {', '.join(CHANNELS)}", code=ErrorCode.API_VALIDATION)
    return channel


def list_templates(database: Database, user_id: int, channel: str = "") -> list[SavedTemplate]:
    """The user's templates, by channel then name; ``channel`` empty: every channel."""
    query = select(SavedTemplate).where(SavedTemplate.user_id == user_id)
    if channel:
        query = query.where(SavedTemplate.channel == checked_channel(channel))
    with database.session() as session:
        found = list(session.scalars(query.order_by(SavedTemplate.channel, SavedTemplate.name, SavedTemplate.id)))
        session.expunge_all()
        return found


def find_template(database: Database, template_id: int, user_id: int) -> SavedTemplate:
    with database.session() as session:
        template = _owned(session, template_id, user_id)
        session.expunge_all()
        return template


def create_template(database: Database, rules: TemplateRules, user_id: int, fields: TemplateFields) -> SavedTemplate:
    """A new template from ``fields``, checked as a campaign's template of its channel is."""
    checked = _checked(rules, user_id, fields)
    with database.unit_of_work() as session:
        template = SavedTemplate(user_id=user_id, channel=checked.channel, name=checked.name)
        _fill(template, checked)
        _insert(session, template)
        template_id = template.id
    log.info("saved template created", template_id=template_id, channel=checked.channel)
    return find_template(database, template_id, user_id)


def update_template(database: Database, rules: TemplateRules, template_id: int, user_id: int,
                    fields: TemplateFields) -> SavedTemplate:
    """Replaces the template's name and fields; its channel stays (``fields.channel`` empty or the same)."""
    current = find_template(database, template_id, user_id)
    if fields.channel and checked_channel(fields.channel) != current.channel:
        raise InvalidArgument(f"channel cannot be changed: this is an {current.channel} template",
                              code=ErrorCode.API_VALIDATION)
    checked = _checked(rules, user_id, replace(fields, channel=current.channel))
    with database.unit_of_work() as session:
        template = _owned(session, template_id, user_id, lock=True)
        _fill(template, checked)
        template.updated_at = utcnow()
        _flush(session, checked)
    log.info("saved template updated", template_id=template_id)
    return find_template(database, template_id, user_id)


def delete_template(database: Database, template_id: int, user_id: int) -> None:
    """Deletes the template; campaigns started from it keep their copy."""
    with database.unit_of_work() as session:
        session.delete(_owned(session, template_id, user_id, lock=True))
    log.info("saved template deleted", template_id=template_id)


def save_campaign_template(database: Database, campaign_id: int, user_id: int, name: str) -> SavedTemplate:
    """The campaign's message saved as a new template named ``name`` (it was checked when the campaign saved it)."""
    name = checked_name(name)
    with database.unit_of_work() as session:
        campaign = owned_campaign(session, campaign_id, user_id)
        source = template_of(session, campaign)
        if source is None:
            raise InvalidArgument(f"Campaign {campaign_id} has no message yet: save its template first",
                                  code=ErrorCode.INVALID_TEMPLATE)
        template = SavedTemplate(user_id=user_id, channel=campaign.type, name=name, body=source.body,
                                 params=list(source.params or ()))
        if isinstance(source, EmailTemplate):
            template.subject, template.reply_to = source.subject, source.reply_to
            template.from_address, template.show_logo = source.from_address, source.show_logo is not False
        _insert(session, template)
        template_id = template.id
    log.info("campaign template saved", template_id=template_id, campaign_id=campaign_id)
    return find_template(database, template_id, user_id)


def start_campaign(database: Database, renderer: Renderer, user_id: int, name: str, template_id: int,
                   channel: str = "", protect: bool = False, test: bool = False) -> CampaignView:
    """A new draft campaign of the template's channel whose template is a copy of the saved one. ``channel``, when
    given, must be the template's. An SMS template is measured again by the renderer (its parts and encoding, which
    the campaign's template shows), before the transaction opens."""
    if protect:
        raise InvalidArgument("protect cannot be used with template_id: a password-protected email carries only its "
                              "link, so it starts from its own message", code=ErrorCode.API_VALIDATION)
    found = find_template(database, template_id, user_id)
    sms = renderer.validate_template("SMS", "", found.body) if found.channel == "SMS" else None
    with database.unit_of_work() as session:
        saved = _owned(session, template_id, user_id)
        if channel and channel.strip().upper() != saved.channel:
            raise InvalidArgument(f"template_id {template_id} is an {saved.channel} template, not an "
                                  f"{channel.strip().upper()} one: choose a template of the campaign's channel",
                                  code=ErrorCode.API_VALIDATION)
        view = create_campaign(session, user_id, name, saved.channel, test=test)
        copied = _campaign_template(saved, view.campaign.id)
        if isinstance(copied, SmsTemplate) and sms is not None:
            copied.segments, copied.encoding = sms.segments, sms.encoding
        session.add(copied)
        session.flush()
        campaign_id = view.campaign.id
    log.info("campaign started from a saved template", campaign_id=campaign_id, template_id=template_id)
    with database.unit_of_work() as session:
        return get_campaign(session, campaign_id, user_id)


@dataclass(frozen=True)
class _Checked:
    name: str
    channel: str
    subject: str | None
    body: str
    params: list[str]
    reply_to: str | None = None
    from_address: str | None = None
    show_logo: bool = True


def _checked(rules: TemplateRules, user_id: int, fields: TemplateFields) -> _Checked:
    """The fields as they will be stored, or a 400 naming the field: the campaign template's checks, in its order."""
    name = checked_name(fields.name)
    channel = checked_channel(fields.channel)
    if channel != "EMAIL":
        check_size(rules.limits, channel, body=fields.body)
        if not fields.body.strip():
            raise InvalidArgument("body is required", code=ErrorCode.API_VALIDATION)
        validated = rules.renderer.validate_template(channel, "", fields.body)
        return _Checked(name, channel, None, validated.body, list(validated.params))
    check_size(rules.limits, "EMAIL", subject=fields.subject, body=fields.body)
    verified: Callable[[], Collection[str]] | Collection[str] = \
        lookup_for(rules.senders, user_id) if rules.senders is not None else ()
    change = check_change(TemplateChange(subject=fields.subject, body=fields.body, reply_to=fields.reply_to,
                                         from_address=fields.from_address, show_logo=fields.show_logo),
                          rules.default_from, verified)
    validated = rules.renderer.validate_template("EMAIL", change.subject, change.body)
    return _Checked(name, channel, validated.subject, validated.body, list(validated.params), change.reply_to,
                    change.from_address, change.show_logo)


def _fill(template: SavedTemplate, checked: _Checked) -> None:
    template.name = checked.name
    template.subject = checked.subject
    template.body = checked.body
    template.params = list(checked.params)
    template.reply_to = checked.reply_to
    template.from_address = checked.from_address
    template.show_logo = checked.show_logo


def _owned(session: Session, template_id: int, user_id: int, lock: bool = False) -> SavedTemplate:
    """The template if ``user_id`` owns it, else NotFound (another user's is reported as missing)."""
    query = select(SavedTemplate).where(SavedTemplate.id == template_id, SavedTemplate.user_id == user_id)
    if lock:
        query = query.with_for_update()
    template = session.scalars(query).one_or_none()
    if template is None:
        raise NotFound("Template")
    return template


def _insert(session: Session, template: SavedTemplate) -> None:
    session.add(template)
    _flush(session, template)


def _flush(session: Session, named: SavedTemplate | _Checked) -> None:
    """Flushes in a savepoint, so that a name clash (the unique constraint, which also settles two concurrent saves)
    is a clear 400 naming the field, not a 500."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        if "uq_saved_templates_user_id_channel_name" not in str(exc.orig):
            raise
        raise InvalidArgument(f"name {named.name!r} is already used by another of your "
                              f"{CHANNEL_WORDS[named.channel]} templates: choose another name",
                              code=ErrorCode.API_VALIDATION) from None


def _campaign_template(saved: SavedTemplate,
                       campaign_id: int) -> EmailTemplate | SmsTemplate | TelegramTemplate:
    params = list(saved.params or ())
    if saved.channel == "EMAIL":
        return EmailTemplate(campaign_id=campaign_id, subject=saved.subject or "", body=saved.body,
                             reply_to=saved.reply_to, from_address=saved.from_address or "", params=params,
                             show_logo=saved.show_logo)
    if saved.channel == "SMS":
        return SmsTemplate(campaign_id=campaign_id, body=saved.body, params=params)
    return TelegramTemplate(campaign_id=campaign_id, body=saved.body, params=params)

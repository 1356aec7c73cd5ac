"""Step 2 of the campaign journey: the message. The editor shows the form as posted, else the saved template, else
the defaults; it previews the message (live as the officer types, through ``template_preview``) and saves it."""

from __future__ import annotations

from flask import make_response, render_template, request
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import ErrorCode
from postman_gateway.core.request_context import current
from postman_gateway.web.campaign import rich_text, sender_fields, template_preview
from postman_gateway.web.campaign.access import campaign_ref, officer_campaign, see_other
from postman_gateway.web.campaign.journey import blueprint, not_a_draft, platform_settings
from postman_gateway.web.campaign.view import CampaignView
from postman_gateway.web.pages import FormErrors, render
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

# A password-protected email carries only the link: what a new one starts from (the officer may reword it).
PROTECTED_DEFAULT_BODY = (
    '<p>You have a password-protected message.</p>'
    '<p><a href="{{protectedlink}}">Open your message</a></p>'
    '<p>You will need the password you were told about. The link works for a limited time.</p>'
)


def _template_values(view: CampaignView) -> dict[str, str]:
    """What the editor shows: the form as posted, else the saved template, else the defaults. An email's From is
    two fields, ``from_name`` and ``from_address`` (a drop-down), and ``from``, the header they make."""
    template = view.template
    if request.method == "POST":
        if view.channel != "EMAIL":
            return {"body": request.form.get("body", "")}
        values = {key: request.form.get(key, "") for key in ("subject", "body", "reply_to")}
        return {**values, **sender_fields.posted(request.form, platform_settings().email_from)}
    if view.channel != "EMAIL":
        return {"body": template.body if template is not None else ""}
    if isinstance(template, campaign_pb2.EmailTemplate):
        return {"subject": template.subject, "body": template.body,
                "reply_to": template.reply_to if template.HasField("reply_to") else "",
                **sender_fields.saved(template.from_address, platform_settings().email_from)}
    body = PROTECTED_DEFAULT_BODY if view.campaign.protect else ""
    return {"subject": "", "body": body, "reply_to": "", **sender_fields.saved("", platform_settings().email_from)}


def _template_error_field(view: CampaignView, exc: ServiceError) -> str:
    """The field a refused template is about (the renderer and the campaign service name it in the message)."""
    if view.channel != "EMAIL":
        return "body"
    message = exc.message.lower()
    if exc.code == ErrorCode.INVALID_FROM_ADDRESS or message.startswith("from"):
        return sender_fields.error_field(exc.message)
    if "reply_to" in message:
        return "reply_to"
    if exc.code == ErrorCode.INVALID_TEMPLATE:
        return template_preview.error_field(exc.message)
    return "subject" if message.lstrip('"').startswith("subject") else "body"  # '"subject" is … bytes long'…


def _show_logo(view: CampaignView) -> bool:
    """Whether the email shows the agency's logo: the box as posted, else as saved (true for a new template)."""
    if request.method == "POST":
        return request.form.get("show_logo") == "yes"
    template = view.template
    return template.show_logo if isinstance(template, campaign_pb2.EmailTemplate) else True


def _save_template(view: CampaignView, values: dict[str, str]) -> None:
    ref = campaign_ref(view.id)
    if view.channel == "EMAIL":
        email = campaign_pb2.UpdateEmailTemplateRequest(
            campaign_id=ref.campaign_id, user_id=ref.user_id, subject=values["subject"], body=values["body"],
            from_address=values["from"], show_logo=_show_logo(view))
        if values["reply_to"].strip():
            email.reply_to = values["reply_to"].strip()
        client.call(backends().campaign.UpdateEmailTemplate, email)
        return
    text = campaign_pb2.UpdateSmsTemplateRequest(campaign_id=ref.campaign_id, user_id=ref.user_id,
                                                 body=values["body"])
    method = backends().campaign.UpdateSmsTemplate if view.channel == "SMS" else \
        backends().campaign.UpdateTelegramTemplate
    client.call(method, text)


def _template_errors(view: CampaignView, values: dict[str, str]) -> FormErrors:
    errors = FormErrors()
    if view.channel == "EMAIL" and not values["subject"].strip():
        errors.add("subject", "Enter a subject")
    if not values["body"].strip():
        errors.add("body", "Write the message")
    return errors


@blueprint.route("/<int:campaign_id>/template", methods=["GET", "POST"])
def template(campaign_id: int) -> ResponseReturnValue:
    view = officer_campaign(campaign_id)
    if (elsewhere := not_a_draft(view)) is not None:
        return elsewhere
    values = _template_values(view)
    errors = FormErrors()
    preview = None
    if request.method == "POST":
        errors = _template_errors(view, values)
        if not errors and request.form.get("intent") == "preview":
            preview = template_preview.preview(view.channel, values.get("subject", ""), values["body"],
                                               _show_logo(view))
            if preview.error:
                errors.add(preview.error_field, preview.error)
        elif not errors:
            try:
                _save_template(view, values)
                return see_other(f"{view.url}/recipients")
            except ServiceError as exc:
                if exc.http_status != 400:
                    raise
                errors.add(_template_error_field(view, exc), exc.message)
    elif view.template is not None:
        preview = template_preview.preview(view.channel, values.get("subject", ""), values["body"], _show_logo(view))
    from_options = sender_fields.options(current().user_id, platform_settings().email_from,
                                         values.get("from_address", "")) if view.channel == "EMAIL" else []
    page = make_response(render(
        "campaign/template.html", 400 if errors else 200, title="Write the message", errors=errors, campaign=view,
        values=values, preview=preview, max_segments=platform_settings().sms_max_segments, from_options=from_options,
        show_logo=_show_logo(view), editor_allowed_html=rich_text.allowed_html(),
        editor_keys=rich_text.insertable_keys(view)))
    return rich_text.with_editor_policy(page) if view.channel == "EMAIL" else page


@blueprint.post("/<int:campaign_id>/template/preview")
def template_preview_fragment(campaign_id: int) -> ResponseReturnValue:
    """The editor's live preview (the script posts the form here as the officer types): the preview part of the
    page, rendered by the same template as the page, so it is escaped the same way."""
    view = officer_campaign(campaign_id)
    preview = template_preview.preview(view.channel, request.form.get("subject", ""), request.form.get("body", ""),
                                       _show_logo(view))
    return render_template("campaign/_template_preview.html", campaign=view, preview=preview,
                           max_segments=platform_settings().sms_max_segments)

"""Saved templates as an officer sees them (issue 18): the list per channel, editing one, deleting one after a
confirmation, saving a campaign's message as one (from the template step), and the way to start a campaign from one
(``/campaigns/new?template=<id>``, handled by the journey's ``create`` step).

The campaign service checks everything (the template rules of the channel, the unique name, ownership: another
officer's template is not found); these pages ask, as the signed-in officer, through the same functions as the API
(``api/saved_templates.py``), and show a refusal beside the field it is about. Outcomes are said on the next page
with a fixed notice, never with text from the address bar. Every form works without script; with it, an email
template's message is written in the campaign step's rich-text editor (``web/campaign/rich_text.py``).
"""

from __future__ import annotations

from flask import make_response, request, url_for
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2
from postman_gateway.api import saved_templates
from postman_gateway.core.request_context import current
from postman_gateway.web import formatting
from postman_gateway.web.campaign import rich_text
from postman_gateway.web.campaign.access import MAX_ID, officer_campaign, see_other
from postman_gateway.web.pages import FormErrors, render, signed_in_blueprint
from postman_shared.grpc.errors import NotFound, ServiceError

# A template's body may be as large as a campaign's: the blueprint's forms take what the template step takes.
MAX_TEMPLATE_FORM_BYTES = 1024 * 1024
CHANNELS = {"EMAIL": "Email", "SMS": "SMS", "TELEGRAM": "Telegram"}
NOTICES = {
    "saved": "The message was saved as a template.",
    "updated": "The template was saved.",
    "deleted": "The template was deleted. Campaigns started from it keep their own copy of the message.",
}

blueprint = signed_in_blueprint("saved_template_pages", __name__, max_form_bytes=MAX_TEMPLATE_FORM_BYTES,
                                url_prefix="/templates")
formatting.install(blueprint)


def _ref(template_id: int) -> campaign_pb2.SavedTemplateRef:
    if not 1 <= template_id <= MAX_ID:
        raise NotFound("Template")
    return campaign_pb2.SavedTemplateRef(template_id=template_id, user_id=current().user_id)


def _field_of(exc: ServiceError, channel: str) -> str:
    """The form field a refusal is about: the campaign service and the renderer name it at the start of the message
    ("name ... is already used", "subject is required", "reply_to ...", "Subject: ..."); anything else is about the
    message."""
    message = exc.message.lower().lstrip('"')
    for field in ("name", "reply_to", "subject"):
        if message.startswith(field) and (channel == "EMAIL" or field == "name"):
            return field
    return "body"


@blueprint.get("")
def list_templates() -> ResponseReturnValue:
    found = saved_templates.list_templates(current().user_id)
    groups = [(channel, words, [t for t in found if t.channel == channel]) for channel, words in CHANNELS.items()]
    return render("saved_templates/list.html", title="Saved templates", groups=groups, total=len(found),
                  notice=NOTICES.get(request.args.get("notice", "")))


@blueprint.route("/<int:template_id>", methods=["GET", "POST"])
def edit_template(template_id: int) -> ResponseReturnValue:
    ref = _ref(template_id)
    template = saved_templates.get_template(ref)
    errors = FormErrors()
    values = {"name": template.name, "subject": template.subject, "body": template.body,
              "reply_to": template.reply_to if template.HasField("reply_to") else ""}
    if request.method == "POST":
        values = {key: request.form.get(key, "") for key in values}
        if not values["name"].strip():
            errors.add("name", "Enter a name for the template")
        if template.channel == "EMAIL" and not values["subject"].strip():
            errors.add("subject", "Enter a subject")
        if not values["body"].strip():
            errors.add("body", "Write the message")
        if not errors:
            fields = campaign_pb2.SavedTemplateFields(
                name=values["name"], channel=template.channel, body=values["body"], subject=values["subject"],
                from_address=template.from_address, show_logo=template.show_logo)
            if values["reply_to"].strip():
                fields.reply_to = values["reply_to"].strip()
            try:
                saved_templates.update_template(ref, fields)
                return see_other(url_for("saved_template_pages.list_templates", notice="updated"))
            except ServiceError as exc:
                if exc.http_status != 400:
                    raise
                errors.add(_field_of(exc, template.channel), exc.message)
    page = make_response(render(
        "saved_templates/edit.html", 400 if errors else 200, title="Edit a saved template", saved=template,
        values=values, errors=errors, channel_words=CHANNELS[template.channel],
        editor_allowed_html=rich_text.allowed_html(), editor_keys=rich_text.keys(template.params)))
    # An email template's message is written in the rich-text editor, as on the campaign's template step.
    return rich_text.with_editor_policy(page) if template.channel == "EMAIL" else page


@blueprint.route("/<int:template_id>/delete", methods=["GET", "POST"])
def delete_template(template_id: int) -> ResponseReturnValue:
    ref = _ref(template_id)
    template = saved_templates.get_template(ref)
    if request.method == "POST":
        saved_templates.delete_template(ref)
        return see_other(url_for("saved_template_pages.list_templates", notice="deleted"))
    return render("saved_templates/delete.html", title="Delete this template?", saved=template,
                  channel_words=CHANNELS[template.channel])


@blueprint.route("/from-campaign/<int:campaign_id>", methods=["GET", "POST"])
def save_from_campaign(campaign_id: int) -> ResponseReturnValue:
    """The campaign's saved message as a new template: the template step's "Save as a template" form posts here; a
    refusal (a name already used, no message yet) is shown on this page's own form."""
    view = officer_campaign(campaign_id)
    errors = FormErrors()
    name = request.form.get("template_name", "").strip() if request.method == "POST" else view.name
    if request.method == "POST":
        if not name:
            errors.add("template_name", "Enter a name for the template")
        else:
            try:
                saved_templates.create_template(current().user_id, campaign_pb2.SavedTemplateFields(name=name),
                                                from_campaign=view.id)
                return see_other(url_for("saved_template_pages.list_templates", notice="saved"))
            except ServiceError as exc:
                if exc.http_status != 400:
                    raise
                errors.add("template_name", exc.message)
    return render("saved_templates/save_as.html", 400 if errors else 200, title="Save the message as a template",
                  campaign=view, name=name, errors=errors)


def template_choices(user_id: int) -> list[tuple[str, str, str]]:
    """(id, label, channel) of the officer's templates, for the create step's drop-down."""
    return [(str(t.id), f"{CHANNELS[t.channel]}: {t.name}", t.channel)
            for t in saved_templates.list_templates(user_id)]

"""Step 1 of the campaign journey: a new campaign, its name, channel and (email only) password protection, and,
optionally, a saved template of that channel to start from (its message is copied into the new campaign;
``/campaigns/new?template=<id>``, the Templates page's link, chooses it)."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2
from postman_gateway.api import saved_templates
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import ErrorCode
from postman_gateway.core.request_context import current
from postman_gateway.web.campaign.access import see_other
from postman_gateway.web.campaign.journey import blueprint
from postman_gateway.web.pages import FormErrors, render
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

CHANNELS = ("EMAIL", "SMS", "TELEGRAM")
CHANNEL_WORDS = {"EMAIL": "Email", "SMS": "SMS", "TELEGRAM": "Telegram"}


@blueprint.route("/new", methods=["GET", "POST"])
def new_campaign() -> ResponseReturnValue:
    errors = FormErrors()
    name = request.form.get("name", "").strip()
    channel = request.form.get("channel", "")
    protect = request.form.get("protect") == "yes"
    templates = saved_templates.list_templates(current().user_id)
    template = _chosen_template(templates)
    if request.method == "GET" and template is not None:
        channel = template.channel
    if request.method == "POST":
        if not name:
            errors.add("name", "Enter a name for the campaign")
        if template is not None and not channel:
            channel = template.channel
        if channel not in CHANNELS:
            errors.add("channel-email", "Choose how the messages are sent: email, SMS or Telegram")
        elif protect and channel != "EMAIL":
            errors.add("protect", "Only email campaigns can be password-protected: choose Email, or untick "
                                  "Password-protected")
        if template is not None and channel in CHANNELS and template.channel != channel:
            errors.add("template", f"“{template.name}” is a template for {CHANNEL_WORDS[template.channel]}: "
                                   f"choose {CHANNEL_WORDS[template.channel]} above, or another template")
        elif template is not None and protect:
            errors.add("template", "A password-protected email carries only its link, so it cannot start from a "
                                   "saved template: untick Password-protected, or start without a template")
        if not errors:
            try:
                created = client.call(backends().campaign.CreateCampaign, campaign_pb2.CreateCampaignRequest(
                    user_id=current().user_id, name=name, type=channel, protect=protect,
                    saved_template_id=template.id if template is not None else 0))
                return see_other(f"/campaigns/{created.id}/template")
            except ServiceError as exc:
                if exc.code not in (ErrorCode.API_VALIDATION, ErrorCode.INVALID_PARAMETERS):
                    raise
                errors.add("channel-email" if "type" in exc.message or "campaigns" in exc.message else "name",
                           exc.message)
    return render("campaign/new.html", 400 if errors else 200, title="Create a campaign", errors=errors,
                  name=name, channel=channel, protect=protect, templates=templates,
                  chosen_template=template.id if template is not None else 0, channel_words=CHANNEL_WORDS)


def _chosen_template(templates: list[campaign_pb2.SavedTemplate]) -> campaign_pb2.SavedTemplate | None:
    """The saved template to start from: the form's choice, or the address's ``?template=`` (the Templates page's
    link); one that is not among the officer's own is ignored."""
    raw = request.form.get("template", "") if request.method == "POST" else request.args.get("template", "")
    return next((t for t in templates if str(t.id) == raw.strip()), None)

"""Step 1 of the campaign journey: a new campaign, its name, channel and (email only) password protection."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import ErrorCode
from postman_gateway.core.request_context import current
from postman_gateway.web.campaign.access import see_other
from postman_gateway.web.campaign.journey import blueprint
from postman_gateway.web.pages import FormErrors, render
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

CHANNELS = ("EMAIL", "SMS", "TELEGRAM")


@blueprint.route("/new", methods=["GET", "POST"])
def new_campaign() -> ResponseReturnValue:
    errors = FormErrors()
    name = request.form.get("name", "").strip()
    channel = request.form.get("channel", "")
    protect = request.form.get("protect") == "yes"
    if request.method == "POST":
        if not name:
            errors.add("name", "Enter a name for the campaign")
        if channel not in CHANNELS:
            errors.add("channel-email", "Choose how the messages are sent: email, SMS or Telegram")
        elif protect and channel != "EMAIL":
            errors.add("protect", "Only email campaigns can be password-protected: choose Email, or untick "
                                  "Password-protected")
        if not errors:
            try:
                created = client.call(backends().campaign.CreateCampaign, campaign_pb2.CreateCampaignRequest(
                    user_id=current().user_id, name=name, type=channel, protect=protect))
                return see_other(f"/campaigns/{created.id}/template")
            except ServiceError as exc:
                if exc.code not in (ErrorCode.API_VALIDATION, ErrorCode.INVALID_PARAMETERS):
                    raise
                errors.add("channel-email" if "type" in exc.message or "campaigns" in exc.message else "name",
                           exc.message)
    return render("campaign/new.html", 400 if errors else 200, title="Create a campaign", errors=errors,
                  name=name, channel=channel, protect=protect)

"""Step 4 of the campaign journey (SMS and Telegram): the Twilio account or Telegram bot that sends it, a saved one
or a new one, through the same functions as the API (``channel_routes``)."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2, senders_pb2
from postman_gateway.api import channel_routes
from postman_gateway.core.backends import backends
from postman_gateway.core.request_context import current
from postman_gateway.web.campaign import forms
from postman_gateway.web.campaign.access import officer_campaign, see_other
from postman_gateway.web.campaign.journey import blueprint, not_a_draft
from postman_gateway.web.campaign.view import CampaignView
from postman_gateway.web.pages import FormErrors, render
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError


def _use_credentials(view: CampaignView, action: str, form: dict[str, str]) -> str:
    """Does what the posted form asks; returns where to go next."""
    user_id = current().user_id
    if action == "saved":
        channel_routes.use_saved_credential(view.campaign, user_id, form.get("label", ""),
                                            form.get("recipient", ""))
        return f"{view.url}/review" if view.channel == "SMS" else f"{view.url}/credentials?chosen=1"
    if action == "verify":
        channel_routes.send_telegram_test(view.campaign, user_id, form.get("test_recipient", ""))
        return f"{view.url}/credentials?tested=1"
    label = form.get("new_label", "").strip()
    if view.channel == "SMS":
        channel_routes.add_twilio_credential(
            view.campaign, user_id, label=label, recipient=form.get("new_recipient", ""),
            account=senders_pb2.TwilioAccountFields(
                account_sid=form.get("twilio_account_sid", "").strip(),
                api_key=form.get("twilio_api_key", "").strip(),
                api_secret=form.get("twilio_api_secret", "").strip(),
                messaging_service_sid=form.get("twilio_messaging_service_sid", "").strip()))
        return f"{view.url}/review"
    channel_routes.add_telegram_bot(view.campaign, user_id, label=label, token=form.get("telegram_bot_token", ""))
    return f"{view.url}/credentials?chosen=1"


@blueprint.route("/<int:campaign_id>/credentials", methods=["GET", "POST"])
def credentials(campaign_id: int) -> ResponseReturnValue:
    view = officer_campaign(campaign_id)
    if (elsewhere := not_a_draft(view)) is not None:
        return elsewhere
    if not view.needs_credential:  # email goes out with the platform's own account
        return see_other(f"{view.url}/review")
    errors = FormErrors()
    action = request.form.get("intent", "")
    # The secret is never sent back into the page: after a refusal it must be typed again.
    form = {key: value for key, value in request.form.items() if key not in ("twilio_api_secret", "csrf_token")}
    if request.method == "POST":
        if action not in ("saved", "new", "verify") or (action == "verify" and view.channel != "TELEGRAM"):
            errors.add("label-0", "Choose a saved account or add a new one")
        else:
            errors = forms.credential_form_errors(view, action, dict(request.form.items()))
        if not errors:
            try:
                return see_other(_use_credentials(view, action, dict(request.form.items())))
            except ServiceError as exc:
                if exc.http_status not in (400, 404):
                    raise
                errors.add(forms.credential_error_field(exc, action, view.channel), exc.message)
    saved = client.call(backends().campaign.ListCredentials, campaign_pb2.ListCredentialsRequest(
        user_id=current().user_id, channel=view.channel)).credentials
    saved = [credential for credential in saved if credential.label]
    return render("campaign/credentials.html", 400 if errors else 200, title=f"Choose the {view.credential_words}",
                  errors=errors, campaign=view, saved=saved, form=form, action=action,
                  chosen=request.args.get("chosen") == "1", tested=request.args.get("tested") == "1")

"""The rest of a campaign's life in the browser: duplicate it, cancel a scheduled send, delete a draft (the last
two asked twice: a confirmation page, then its button)."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from postman_gateway.api import channel_routes
from postman_gateway.core import audit
from postman_gateway.core.backends import backends
from postman_gateway.web.campaign.access import campaign_ref, officer_campaign, see_other
from postman_gateway.web.campaign.journey import blueprint
from postman_gateway.web.pages import FormErrors, render
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError


@blueprint.route("/<int:campaign_id>/duplicate", methods=["GET", "POST"])
def duplicate(campaign_id: int) -> ResponseReturnValue:
    view = officer_campaign(campaign_id)
    errors = FormErrors()
    name = request.form.get("name", f"Copy of {view.name}").strip()
    if request.method == "POST":
        if not name:
            errors.add("name", "Enter a name for the copy")
        else:
            try:
                copy = channel_routes.duplicate_campaign(campaign_ref(view.id), view.channel, name)
                return see_other(f"/campaigns/{copy.id}")
            except ServiceError as exc:
                if exc.http_status != 400:
                    raise
                errors.add("name", exc.message)
    return render("campaign/duplicate.html", 400 if errors else 200, title="Duplicate the campaign",
                  errors=errors, campaign=view, name=name)


CONFIRMATIONS = {
    "cancel": ("Cancel the scheduled send?", "The campaign will not be sent at {when}. It becomes a draft again, "
               "with its message and recipients, and you can send or schedule it later.", "Cancel the send"),
    "delete": ("Delete this draft?", "The campaign, its message and its recipient list will be deleted. This "
               "cannot be undone.", "Delete the draft"),
}


@blueprint.route("/<int:campaign_id>/<any(cancel, delete):action>", methods=["GET", "POST"])
def confirm(campaign_id: int, action: str) -> ResponseReturnValue:
    """Cancelling a scheduled send and deleting a draft are asked twice: this page, then its button."""
    view = officer_campaign(campaign_id)
    if request.method == "POST":
        ref = campaign_ref(view.id)
        try:
            if action == "cancel":
                client.call(backends().campaign.CancelScheduledSend, ref)
                audit.record("campaign.send_cancelled", "campaign", ref.campaign_id, {})
                return see_other(view.url)
            client.call(backends().campaign.DeleteCampaign, ref)
            audit.record("campaign.deleted", "campaign", ref.campaign_id, {})
            return see_other("/campaigns")
        except ServiceError as exc:
            if exc.http_status not in (400, 403):
                raise
            errors = FormErrors()
            errors.add("confirm", exc.message)
            return render("campaign/confirm.html", 400, title=CONFIRMATIONS[action][0], errors=errors,
                          campaign=view, action=action, words=CONFIRMATIONS[action])
    return render("campaign/confirm.html", title=CONFIRMATIONS[action][0], campaign=view, action=action,
                  words=CONFIRMATIONS[action])

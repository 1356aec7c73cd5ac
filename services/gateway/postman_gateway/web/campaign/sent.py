"""The page of a campaign that was sent or scheduled: its progress and outcomes (live while it sends), the failed and
invalid recipients as CSV, and what an officer can do while and after it sends: stop sending, resume it (a halted
campaign only after the officer confirms they checked the list), retry the failed messages.

Stop and resume go through the same functions as the API (``channel_routes``: the audit trail, the campaign
service's rules); a refusal is shown beside the buttons in the officer's words.
"""

from __future__ import annotations

from flask import current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from postman.v1 import stats_pb2
from postman_gateway.api import channel_routes
from postman_gateway.core.backends import backends
from postman_gateway.web import SETTINGS
from postman_gateway.web.campaign import csv_export, pictures
from postman_gateway.web.campaign.access import campaign_ref, officer_campaign, see_other
from postman_gateway.web.campaign.view import CampaignView, Progress
from postman_gateway.web.pages import FormErrors, render, signed_in_blueprint
from postman_shared.campaign_statuses import CampaignStatus
from postman_shared.grpc import client
from postman_shared.grpc.errors import NotFound, ServiceError

blueprint = signed_in_blueprint("campaign_sent", __name__, url_prefix="/campaigns")


def _progress(view: CampaignView) -> Progress:
    ref = campaign_ref(view.id)
    stats = client.call(backends().stats.GetCampaignStats,
                        stats_pb2.StatsRequest(campaign_id=ref.campaign_id, user_id=ref.user_id))
    return Progress.of(stats, view)


# What the campaign page says after an action (a fixed notice: never text from the address bar).
NOTICES = {
    "stopped": "Sending stopped. The messages not sent yet stay unsent until you resume sending.",
    "resumed": "Sending resumed: the messages that were not sent are being sent now.",
}
STILL_STOPPING = ("Sending is still stopping: the messages that were being handed over are being recorded. Try "
                  "again in a few seconds.")


def _picture(view: CampaignView) -> pictures.OutcomePicture | None:
    """The picture of the campaign's outcomes over time; none before it sends, or once its outcomes were deleted."""
    if view.is_draft or view.redacted or view.status == CampaignStatus.SCHEDULED:
        return None
    ref = campaign_ref(view.id)
    return pictures.outcome_picture(ref.campaign_id, ref.user_id, view.name)


def _campaign_page(view: CampaignView, errors: FormErrors | None = None, status: int = 200) -> ResponseReturnValue:
    progress = None if view.is_draft else _progress(view)
    return render("campaign/show.html", status, title=view.name, errors=errors or FormErrors(), campaign=view,
                  progress=progress, picture=_picture(view),
                  notice=None if errors else NOTICES.get(request.args.get("done", "")),
                  retention_days=current_app.extensions[SETTINGS].campaign_retention_days)


def _refused(view: CampaignView, message: str) -> ResponseReturnValue:
    """The campaign page again, with a service's refusal of a stop, resume or retry beside its buttons."""
    errors = FormErrors()
    errors.add("sending", message)
    return _campaign_page(officer_campaign(view.id), errors, 400)


@blueprint.get("/<int:campaign_id>")
def show(campaign_id: int) -> ResponseReturnValue:
    return _campaign_page(officer_campaign(campaign_id))


@blueprint.get("/<int:campaign_id>/progress")
def progress(campaign_id: int) -> ResponseReturnValue:
    """The counts for the campaign page's script, which polls this while the campaign is sending."""
    view = officer_campaign(campaign_id)
    return jsonify(status=view.status, halted=view.halted, **_progress(view).as_json())


@blueprint.get("/<int:campaign_id>/chart")
def chart(campaign_id: int) -> ResponseReturnValue:
    """The picture of the campaign's outcomes with its table, as the page shows it, for the page's script to swap
    in while the campaign sends (an HTML fragment; the page itself works without it)."""
    view = officer_campaign(campaign_id)
    picture = _picture(view)
    if picture is None:
        raise NotFound("Picture")
    return render_template("campaign/_outcome_chart.html", picture=picture, campaign=view)


@blueprint.get("/<int:campaign_id>/export/<kind>.csv")
def export(campaign_id: int, kind: str) -> ResponseReturnValue:
    if kind not in csv_export.KINDS:
        raise NotFound("Download")
    ref = campaign_ref(campaign_id)
    return csv_export.download(ref.campaign_id, ref.user_id, kind, f"campaign-{campaign_id}-{kind}.csv")


@blueprint.post("/<int:campaign_id>/stop")
def stop(campaign_id: int) -> ResponseReturnValue:
    """Stops a campaign that is sending (within about a second): reversible, so no confirmation page."""
    view = officer_campaign(campaign_id)
    try:
        channel_routes.stop_campaign(campaign_ref(view.id), view.channel)
    except ServiceError as exc:
        if exc.http_status != 400:
            raise
        return _refused(view, exc.message)
    return see_other(f"{view.url}?done=stopped")


def _send_again(view: CampaignView) -> ResponseReturnValue:
    """Resumes a stopped send or retries the failed messages (the campaign service decides which), as the API."""
    refusal = _retry(view)
    if refusal is not None:
        return _refused(view, refusal)
    return _done_again(view)


def _retry(view: CampaignView, confirm_halted: bool = False) -> str | None:
    """Asks campaign to send again; the refusal in the officer's words, or None."""
    try:
        channel_routes.retry_campaign(campaign_ref(view.id), view.channel, confirm_halted)
    except ServiceError as exc:
        if exc.http_status not in (400, 403, 429):
            raise
        return STILL_STOPPING if "still stopping" in exc.message else exc.message
    return None


def _done_again(view: CampaignView) -> Response:
    # A retry of failed messages shows its progress, which says enough; a resume says what it did.
    return see_other(f"{view.url}?done=resumed" if view.is_stopped else view.url)


@blueprint.post("/<int:campaign_id>/retry")
def retry(campaign_id: int) -> ResponseReturnValue:
    view = officer_campaign(campaign_id)
    if view.halted:  # its list bounced or complained too much: the officer confirms first
        return see_other(f"{view.url}/resume")
    return _send_again(view)


@blueprint.route("/<int:campaign_id>/resume", methods=["GET", "POST"])
def resume(campaign_id: int) -> ResponseReturnValue:
    """Resumes a stopped campaign. A halted one is asked twice: this page says why it halted and asks the officer to
    confirm they checked the recipient list (a refusal after that, like a stop still settling, is said here)."""
    view = officer_campaign(campaign_id)
    if not view.halted:
        return _send_again(view) if request.method == "POST" else see_other(view.url)
    errors = FormErrors()
    confirmed = request.method == "POST" and request.form.get("confirm_halted") == "yes"
    if confirmed:
        refusal = _retry(view, confirm_halted=True)
        if refusal is None:
            return _done_again(view)
        errors.add("confirm", refusal)
    elif request.method == "POST":
        errors.add("confirm_halted", "Confirm that you checked the recipient list, or go back to the campaign")
    progress = _progress(view)
    if request.method == "GET" and not view.is_stopped and not (progress.finished and progress.error):
        return see_other(view.url)  # halted once every message was out, none failed: nothing to send again
    return render("campaign/resume_halted.html", 400 if errors else 200,
                  title=f"{'Resume' if view.is_stopped else 'Retry'} a halted campaign?", errors=errors,
                  campaign=view, progress=progress, confirmed=confirmed)



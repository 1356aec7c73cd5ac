"""Step 5 of the campaign journey: review the first message as it will arrive, send a test email, and send the
campaign (now or at a time typed in the display zone, Singapore time unless ``DISPLAY_TIMEZONE`` says otherwise, at
a chosen rate for SMS and Telegram)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from postman_gateway.api import channel_routes, test_emails
from postman_gateway.core.auth import current_caller
from postman_gateway.core.backends import backends
from postman_gateway.web.campaign import forms
from postman_gateway.web.campaign.access import campaign_ref, officer_campaign, see_other
from postman_gateway.web.campaign.journey import blueprint, not_a_draft, platform_settings
from postman_gateway.web.campaign.view import CampaignView
from postman_gateway.web.pages import FormErrors, render
from postman_shared.grpc import client
from postman_shared.grpc.errors import NotFound, ServiceError

MAX_SMS_RATE = 1000  # the campaign service's own limit (sending.MAX_SMS_RATE)


def _first_message(view: CampaignView) -> Any:
    """The first recipient's message as it will arrive, or None when it cannot be made yet (``view.missing``
    says why)."""
    if view.template is None or view.num_valid == 0 or view.campaign.is_csv_processing:
        return None
    campaign = backends().campaign
    method = {"EMAIL": campaign.PreviewEmail, "SMS": campaign.PreviewSms, "TELEGRAM": campaign.PreviewTelegram}
    try:
        return client.call(method[view.channel], campaign_ref(view.id))
    except ServiceError as exc:
        if exc.http_status != 400:
            raise
        return None


def _rate_limits(view: CampaignView) -> tuple[int, int]:
    """The channel's default send rate and the most a send may ask for (messages per second)."""
    settings = platform_settings()
    if view.channel == "TELEGRAM":
        return settings.telegram_max_rate, settings.telegram_max_rate
    return settings.sms_default_rate, MAX_SMS_RATE


def _rate(view: CampaignView, form: dict[str, str], errors: FormErrors) -> int:
    if not view.needs_credential:
        return 0
    default, most = _rate_limits(view)
    raw = form.get("rate", "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        errors.add("rate", f"Enter a whole number of messages per second, from 1 to {most}")
        return 0
    return int(raw)


@blueprint.route("/<int:campaign_id>/review", methods=["GET", "POST"])
def review(campaign_id: int) -> ResponseReturnValue:
    view = officer_campaign(campaign_id)
    if (elsewhere := not_a_draft(view)) is not None:
        return elsewhere
    errors = FormErrors()
    form = dict(request.form.items())
    if request.method == "POST":
        rate = _rate(view, form, errors)
        when = forms.scheduled_at(form, errors)
        if view.missing:
            errors.add("send", view.missing[0])
        if not errors:
            try:
                channel_routes.send(str(view.id), view.channel, rate, when)
                return see_other(view.url)
            except ServiceError as exc:
                if exc.http_status not in (400, 403, 429):
                    raise
                errors.add("rate" if "rate" in exc.message else "send", exc.message)
    default_rate, most = _rate_limits(view)
    return render("campaign/review.html", 400 if errors else 200, title="Review and send", errors=errors,
                  campaign=view, message=_first_message(view), form=form, default_rate=default_rate,
                  max_rate=most, officer_email=current_caller().email, test_sent=request.args.get("tested") == "1")


@blueprint.post("/<int:campaign_id>/test-email")
def test_email(campaign_id: int) -> ResponseReturnValue:
    """A test email of the message, rendered with the first recipient's values, to one address."""
    view = officer_campaign(campaign_id)
    if view.channel != "EMAIL":
        raise NotFound("Campaign")
    errors = FormErrors()
    status = 400
    address = request.form.get("test_email", "").strip()
    if not address:
        errors.add("test_email", "Enter an email address to send the test to")
    else:
        try:
            test_emails.send_test_email(campaign_ref(view.id), address)
            return see_other(f"{view.url}/review?tested=1")
        except ServiceError as exc:
            if exc.http_status not in (400, 429, 503):  # a bad address, a limit reached, the limiter down
                raise
            errors.add("test_email", exc.message)
            status = exc.http_status
    return render("campaign/review.html", status, title="Review and send", errors=errors, campaign=view,
                  message=_first_message(view), form={"test_email": address}, default_rate=0, max_rate=0,
                  officer_email=current_caller().email, test_sent=False)

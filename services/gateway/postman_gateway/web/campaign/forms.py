"""The checks of the campaign journey's forms that need no service: which field a refusal belongs on, what a
credentials form is missing, and the time of a send for later (typed in the display zone, Singapore time unless
``DISPLAY_TIMEZONE`` says otherwise). The steps of the journey do the rest.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from postman_gateway.core.errors import ErrorCode
from postman_gateway.web import formatting
from postman_gateway.web.campaign.view import CampaignView
from postman_gateway.web.pages import FormErrors
from postman_shared.grpc.errors import ServiceError


def credential_error_field(exc: ServiceError, action: str, channel: str) -> str:
    message = exc.message.lower()
    if action == "verify":
        return "test_recipient"
    if action == "saved":
        return "recipient" if exc.code == ErrorCode.INVALID_RECIPIENT else "label-0"
    if exc.code == ErrorCode.INVALID_RECIPIENT:
        return "new_recipient"
    if exc.code == ErrorCode.INVALID_CREDENTIAL_LABEL:
        return "new_label"
    if channel == "TELEGRAM":
        return "telegram_bot_token"
    for field in ("twilio_api_secret", "twilio_api_key", "twilio_messaging_service_sid", "twilio_account_sid"):
        if field in message:
            return field
    return "twilio_account_sid"


def credential_form_errors(view: CampaignView, action: str, form: dict[str, str]) -> FormErrors:
    errors = FormErrors()
    if action == "saved":
        if not form.get("label"):
            errors.add("label-0", f"Choose a saved {view.credential_words}")
        if view.channel == "SMS" and not form.get("recipient", "").strip():
            errors.add("recipient", "Enter a mobile number to send a test SMS to")
    elif action == "verify":
        if not form.get("test_recipient", "").strip():
            errors.add("test_recipient", "Enter the mobile number of someone who has subscribed to the bot")
    elif view.channel == "SMS":
        for field, words in (("twilio_account_sid", "the Account SID"), ("twilio_api_key", "the API key SID"),
                             ("twilio_api_secret", "the API key secret"),
                             ("twilio_messaging_service_sid", "the Messaging Service SID")):
            if not form.get(field, "").strip():
                errors.add(field, f"Enter {words}")
        if not form.get("new_recipient", "").strip():
            errors.add("new_recipient", "Enter a mobile number to send a test SMS to")
    elif not form.get("telegram_bot_token", "").strip():
        errors.add("telegram_bot_token", "Enter the bot token BotFather gave you")
    return errors


def scheduled_at(form: dict[str, str], errors: FormErrors, zone: ZoneInfo | None = None) -> datetime | None:
    """The date and time of a send for later, read in ``zone`` (the display zone unless given) and checked; None to
    send now. A time the clocks skip (the hour they go forward, where they change) is refused rather than moved."""
    if form.get("when") != "later":
        return None
    day, time = form.get("date", "").strip(), form.get("time", "").strip()
    if not day:
        errors.add("date", "Enter the date to send on, like 2026-12-01")
    if not time:
        errors.add("time", "Enter the time to send at, like 09:30")
    if errors:
        return None
    try:
        typed = datetime.fromisoformat(f"{day}T{time}")
    except ValueError:
        errors.add("date", "Enter a real date and time, like 2026-12-01 and 09:30")
        return None
    zone = zone or formatting.display_zone()
    moment = typed.replace(tzinfo=zone)
    if moment.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) != typed:
        errors.add("time", f"{time} does not happen on {day} in {formatting.zone_name(zone)} (the clocks go "
                           "forward then): choose another time")
        return None
    if moment <= datetime.now(timezone.utc) + timedelta(minutes=1):
        errors.add("date", "The time to send must be in the future")
        return None
    return moment

"""The campaign journey in the browser: create a campaign, write its message, upload its recipients, choose the
Twilio account or Telegram bot, review the first message and send (now or at a Singapore time), then follow its
progress and outcomes (``campaign_sent_pages.py``), duplicate it, cancel a scheduled send, delete a draft.

Every step is a plain form that works without script; ``static/js/campaign-*.js`` add the live template preview and
SMS length, the upload progress bar, and the live progress of a send. The pages call the services as the API does,
as the signed-in officer, through the same shared functions (``channel_routes``) where the API has them, so a rule
(the send limit, the audit trail, the order of checks) holds whichever door a request came through. A service's
refusal is shown on the form beside the field it concerns; anything else a person might see is an HTML page that
says what happened, never a stack trace.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from werkzeug.wrappers import Response

from postman.v1 import campaign_pb2, senders_pb2
from postman_gateway import audit, channel_routes, test_emails
from postman_gateway.backends import backends
from postman_gateway.web import SETTINGS, campaign_forms, formatting, recipient_upload, sender_fields, template_preview
from postman_gateway.web.campaign_access import campaign_ref, officer_campaign, see_other
from postman_gateway.web.campaign_view import CampaignView
from postman_gateway.web.pages import FormErrors, render, signed_in_blueprint
from postman_shared.email_html import clean_email_html
from postman_shared.grpc import client
from postman_shared.grpc.errors import NotFound, ServiceError
from postman_shared.settings import Settings
from postman_shared.telegram_bot import telegram_html

# No blueprint-wide body limit: the recipients page takes the file itself (as large as an upload may be).
blueprint = signed_in_blueprint("campaign", __name__, max_form_bytes=None, url_prefix="/campaigns")
formatting.install(blueprint)

CHANNELS = ("EMAIL", "SMS", "TELEGRAM")
MAX_SMS_RATE = 1000  # the campaign service's own limit (sending.MAX_SMS_RATE)
XHR = "XMLHttpRequest"  # the upload script's X-Requested-With: it wants JSON, not a redirect


@blueprint.app_template_filter("campaign_email_html")
def email_html(body: str) -> Markup:
    """An email body shown as HTML in the page, not escaped and not in an iframe. Safe because: the renderer made
    it from a template sanitised with the email allowlist (``postman_shared.email_html``: no script, style, event
    handler, form or iframe; links only http, https, mailto, tel) and HTML-escaped every recipient value; it is
    cleaned again here with the same allowlist, so the page does not rely on the renderer for its own safety; and
    the CSP (no inline script or style) stands behind both. An ``<iframe sandbox srcdoc>`` would add nothing: it
    inherits the same CSP, and only separates the styles, which the allowlist removes anyway."""
    return Markup(clean_email_html(body))  # noqa: S704 - sanitised just above, see the docstring


@blueprint.app_template_filter("campaign_telegram_html")
def telegram_markup(body: str) -> Markup:
    """A Telegram message shown with its formatting: reduced again to Telegram's few tags (bold, italic, links,
    code...), the same reasoning as ``email_html``; its markup is also shown as text beside it."""
    return Markup(telegram_html(body))  # noqa: S704 - reduced to Telegram's tags just above


def _settings() -> Settings:
    return current_app.extensions[SETTINGS]  # type: ignore[no-any-return]


def _not_a_draft(view: CampaignView) -> Response | None:
    """The editing steps are for drafts; a sent or scheduled campaign shows its own page instead."""
    return None if view.is_draft else see_other(view.url)


# -- 1. A new campaign -------------------------------------------------------------------------------------------

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
                    user_id=g.user_id, name=name, type=channel, protect=protect))
                return see_other(f"/campaigns/{created.id}/template")
            except ServiceError as exc:
                if exc.code not in ("api_validation", "invalid_parameters"):
                    raise
                errors.add("channel-email" if "type" in exc.message or "campaigns" in exc.message else "name",
                           exc.message)
    return render("campaign/new.html", 400 if errors else 200, title="Create a campaign", errors=errors,
                  name=name, channel=channel, protect=protect)


# -- 2. The message -----------------------------------------------------------------------------------------------

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
        return {**values, **sender_fields.posted(request.form, _settings().email_from)}
    if view.channel != "EMAIL":
        return {"body": template.body if template is not None else ""}
    if isinstance(template, campaign_pb2.EmailTemplate):
        return {"subject": template.subject, "body": template.body,
                "reply_to": template.reply_to if template.HasField("reply_to") else "",
                **sender_fields.saved(template.from_address, _settings().email_from)}
    body = PROTECTED_DEFAULT_BODY if view.campaign.protect else ""
    return {"subject": "", "body": body, "reply_to": "", **sender_fields.saved("", _settings().email_from)}


def _template_error_field(view: CampaignView, exc: ServiceError) -> str:
    """The field a refused template is about (the renderer and the campaign service name it in the message)."""
    if view.channel != "EMAIL":
        return "body"
    message = exc.message.lower()
    if exc.code == "invalid_from_address" or message.startswith("from"):
        return sender_fields.error_field(exc.message)
    if "reply_to" in message:
        return "reply_to"
    if exc.code == "invalid_template":
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
    if (elsewhere := _not_a_draft(view)) is not None:
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
    from_options = sender_fields.options(g.user_id, _settings().email_from, values.get("from_address", "")) \
        if view.channel == "EMAIL" else []
    return render("campaign/template.html", 400 if errors else 200, title="Write the message", errors=errors,
                  campaign=view, values=values, preview=preview, max_segments=_settings().sms_max_segments,
                  from_options=from_options, show_logo=_show_logo(view))


@blueprint.post("/<int:campaign_id>/template/preview")
def template_preview_fragment(campaign_id: int) -> ResponseReturnValue:
    """The editor's live preview (the script posts the form here as the officer types): the preview part of the
    page, rendered by the same template as the page, so it is escaped the same way."""
    view = officer_campaign(campaign_id)
    preview = template_preview.preview(view.channel, request.form.get("subject", ""), request.form.get("body", ""),
                                       _show_logo(view))
    return render_template("campaign/_template_preview.html", campaign=view, preview=preview,
                           max_segments=_settings().sms_max_segments)


# -- 3. The recipients --------------------------------------------------------------------------------------------

def _upload_status(view: CampaignView) -> campaign_pb2.UploadStatus:
    ref = campaign_ref(view.id)
    ref.channel = view.channel
    return client.call(backends().campaign.GetUploadStatus, ref)  # type: ignore[no-any-return]


def _next_step_after_recipients(view: CampaignView) -> str:
    return f"{view.url}/credentials" if view.needs_credential else f"{view.url}/review"


@blueprint.route("/<int:campaign_id>/recipients", methods=["GET", "POST"])
def recipients(campaign_id: int) -> ResponseReturnValue:
    view = officer_campaign(campaign_id)
    if (elsewhere := _not_a_draft(view)) is not None:
        return elsewhere
    errors = FormErrors()
    if request.method == "POST":
        file = request.files.get("file")
        if file is None or not file.filename:
            errors.add("file", "Choose a CSV file of recipients to upload")
        else:
            try:
                recipient_upload.upload(view.campaign, g.user_id, file.stream, file.filename,
                                        _settings().max_upload_bytes)
            except ServiceError as exc:
                if exc.http_status not in (400, 403, 413):
                    raise
                errors.add("file", exc.message)
        if request.headers.get("X-Requested-With") == XHR:
            if errors:
                return jsonify(error=errors.get("file")), 400
            return jsonify(status_url=f"{view.url}/recipients/status", page_url=f"{view.url}/recipients"), 202
        if not errors:
            return see_other(f"{view.url}/recipients")
    status = _upload_status(view)
    if not status.is_csv_processing:
        # Read again after the status: a check that ended between the two reads must show its recipients.
        view = officer_campaign(campaign_id)
    # While a new file is being checked, the error of the one before it is not news: the page says "Checking".
    if status.csv_error and not errors and not status.is_csv_processing:
        errors.add("file", status.csv_error)
    page = "campaign/recipients_protected.html" if view.campaign.protect else "campaign/recipients.html"
    return render(page, 400 if request.method == "POST" and errors else 200,
                  title="Upload the recipients", errors=errors, campaign=view, upload=status,
                  next_step=_next_step_after_recipients(view), max_upload_mb=_settings().max_upload_bytes // 2**20)


@blueprint.get("/<int:campaign_id>/recipients/status")
def recipients_status(campaign_id: int) -> ResponseReturnValue:
    """The upload's progress for the page's script (it polls this until the file is checked)."""
    view = officer_campaign(campaign_id)
    status = _upload_status(view)
    return jsonify(processing=status.is_csv_processing, rows_processed=status.rows_processed,
                   filename=status.temp_csv_filename or status.csv_filename, error=status.csv_error,
                   num_recipients=status.num_recipients)


# -- 4. The Twilio account or Telegram bot ------------------------------------------------------------------------

def _use_credentials(view: CampaignView, action: str, form: dict[str, str]) -> str:
    """Does what the posted form asks; returns where to go next."""
    user_id = g.user_id
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
    if (elsewhere := _not_a_draft(view)) is not None:
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
            errors = campaign_forms.credential_form_errors(view, action, dict(request.form.items()))
        if not errors:
            try:
                return see_other(_use_credentials(view, action, dict(request.form.items())))
            except ServiceError as exc:
                if exc.http_status not in (400, 404):
                    raise
                errors.add(campaign_forms.credential_error_field(exc, action, view.channel), exc.message)
    saved = client.call(backends().campaign.ListCredentials, campaign_pb2.ListCredentialsRequest(
        user_id=g.user_id, channel=view.channel)).credentials
    saved = [credential for credential in saved if credential.label]
    return render("campaign/credentials.html", 400 if errors else 200, title=f"Choose the {view.credential_words}",
                  errors=errors, campaign=view, saved=saved, form=form, action=action,
                  chosen=request.args.get("chosen") == "1", tested=request.args.get("tested") == "1")


# -- 5. Review and send -------------------------------------------------------------------------------------------

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
    settings = _settings()
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
    if (elsewhere := _not_a_draft(view)) is not None:
        return elsewhere
    errors = FormErrors()
    form = dict(request.form.items())
    if request.method == "POST":
        rate = _rate(view, form, errors)
        when = campaign_forms.scheduled_at(form, errors)
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
                  max_rate=most, officer_email=g.caller.email, test_sent=request.args.get("tested") == "1")


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
                  officer_email=g.caller.email, test_sent=False)


# -- 6. After sending: duplicate, cancel a scheduled send, delete a draft ----------------------------------------

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

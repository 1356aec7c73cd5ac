"""Settings: the officer's API keys (create, with up to 5 notification contacts told before it expires and when it
is revoked; shown once; list with expiry and contacts; revoke), sender addresses (listed here, managed in
``sender_pages``) and saved provider credentials — Twilio
accounts for SMS and Telegram bots — (add, verify with a test message, remove), with what recipients do to subscribe
to a bot.

The services decide, as for the API: auth keeps keys (only their hash; the key in clear is in one response, this
page's, and nowhere else), sender-sms and sender-telegram check a new credential with the provider and seal it
(plaintext secrets go from the form to the sender and nowhere else: never back into a form, a log or an error),
campaign stores and lists credentials. Ownership is theirs to check: another officer's key or credential is not
found. Outcomes are said on the next page with a fixed notice, never with text from the address bar.
"""

from __future__ import annotations

import re

from flask import abort, current_app, make_response, redirect, request
from flask.typing import ResponseReturnValue

from postman.v1 import auth_pb2, campaign_pb2, senders_pb2
from postman_gateway.api.channel_routes import CREDENTIAL_CHECK_TIMEOUT_SECONDS
from postman_gateway.api.senders import list_addresses
from postman_gateway.core import audit
from postman_gateway.core.auth import client_ip
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import ErrorCode
from postman_gateway.web import SETTINGS, formatting
from postman_gateway.web.pages import FormErrors, officer, render, signed_in_blueprint
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

MAX_LABEL = 100
MAX_FIELD = 200
MAX_CONTACTS = 5  # notification contacts of a key; auth checks each address
MAX_CONTACTS_FIELD = 2000
_CONTACT_SEPARATORS = re.compile(r"[\s,;]+")
_CONTACT_AT_FAULT = re.compile(r'"notification_contacts\[(\d+)\]"')
CHANNEL_NAMES = {"SMS": "Twilio credentials", "TELEGRAM": "Telegram bot"}
NOTICES = {
    "key-revoked": "The API key was revoked: it no longer works.",
    "twilio-added": "The Twilio credentials were checked with a test SMS and saved.",
    "bot-added": "The Telegram bot was checked and saved.",
    "credential-removed": "The credentials were removed. Campaigns that used them need new ones before they send.",
    "sender-verified": "The sender address is verified: you can choose it as the From of your email.",
    "sender-link-sent": "A confirmation link was emailed to the address. Follow it to finish adding the address.",
    "sender-removed": "The sender address was removed. Email that uses it as its From will be refused.",
}

blueprint = signed_in_blueprint("settings", __name__, url_prefix="/settings")
formatting.install(blueprint)


def _user_id() -> int:
    reader = officer()
    assert reader is not None  # require_officer
    return reader.user_id


def _keys() -> list[auth_pb2.ApiKeyInfo]:
    return list(client.call(backends().auth.ListApiKeys, auth_pb2.ListApiKeysRequest(user_id=_user_id())).keys)


def _credentials(channel: str = "") -> list[campaign_pb2.CredentialInfo]:
    found = client.call(backends().campaign.ListCredentials,
                        campaign_pb2.ListCredentialsRequest(user_id=_user_id(), channel=channel))
    return sorted(found.credentials, key=lambda credential: credential.id, reverse=True)


def _credential(raw_id: str) -> campaign_pb2.CredentialInfo:
    """One of the officer's saved credentials, or the not-found page."""
    for credential in _credentials():
        if str(credential.id) == raw_id:
            return credential
    abort(404, description="You have no saved credentials with that number. They may have been removed.")


def _api_key(raw_id: str) -> auth_pb2.ApiKeyInfo:
    for key in _keys():
        if str(key.id) == raw_id:
            return key
    abort(404, description="You have no API key with that number. It may have been revoked already.")


def _reminder_days() -> str:
    """``30, 7 and 1 days``: when keys' owners and contacts are reminded (API_KEY_REMINDER_DAYS); "" for never."""
    days = [str(d) for d in current_app.extensions[SETTINGS].api_key_reminder_days]
    if not days:
        return ""
    said = days[0] if len(days) == 1 else f"{', '.join(days[:-1])} and {days[-1]}"
    return f"{said} day{'' if days == ['1'] else 's'}"


def _field(name: str, limit: int = MAX_FIELD) -> str:
    return request.form.get(name, "").strip()[:limit]


@blueprint.get("")
def overview() -> ResponseReturnValue:
    credentials = _credentials()
    return render("settings/overview.html", title="Settings", keys=_keys(), senders=list_addresses(_user_id()),
                  default_from=current_app.extensions[SETTINGS].email_from,
                  twilio=[c for c in credentials if c.channel == "SMS"],
                  bots=[c for c in credentials if c.channel == "TELEGRAM"],
                  notice=NOTICES.get(request.args.get("done", "")), reminder_days=_reminder_days())


# API keys -------------------------------------------------------------------------------------------------------


def _contact_error(exc: ServiceError, contacts: list[str]) -> str | None:
    """Auth's refusal of a contact, in the page's words (None: the refusal is about something else)."""
    at_fault = _CONTACT_AT_FAULT.search(exc.message)
    if at_fault and int(at_fault.group(1)) < len(contacts):
        return f"“{contacts[int(at_fault.group(1))]}” is not an email address, like team@agency.gov.sg"
    return exc.message if "notification_contacts" in exc.message else None


@blueprint.route("/api-keys/new", methods=["GET", "POST"])
def new_api_key() -> ResponseReturnValue:
    errors = FormErrors()
    label = _field("label", MAX_LABEL + 1)
    test = request.form.get("test") == "yes"
    contacts_text = request.form.get("notification_contacts", "")[:MAX_CONTACTS_FIELD].strip()
    contacts = [c for c in _CONTACT_SEPARATORS.split(contacts_text) if c]
    if request.method == "POST":
        if not label:
            errors.add("label", "Enter a label, so you know later where the key is used")
        elif len(label) > MAX_LABEL:
            errors.add("label", f"The label must be {MAX_LABEL} characters or fewer")
        if len(contacts) > MAX_CONTACTS:
            errors.add("notification_contacts", f"Enter at most {MAX_CONTACTS} addresses, not {len(contacts)}")
        if not errors:
            try:
                created = client.call(backends().auth.CreateApiKey, auth_pb2.CreateApiKeyRequest(
                    user_id=_user_id(), label=label, ip=client_ip(), test=test, notification_contacts=contacts))
            except ServiceError as exc:
                contact_error = _contact_error(exc, contacts)
                errors.add("notification_contacts" if contact_error else "label", contact_error or exc.message)
            else:
                # The key in clear is on this page and nowhere else; the response must not be kept by a cache.
                response = make_response(render("settings/api_key_created.html", title="Your new API key",
                                                key=created.key, api_key=created.api_key))
                response.headers["Cache-Control"] = "no-store"
                return response
    return render("settings/api_key_new.html", 400 if errors else 200, title="Create an API key", label=label,
                  test=test, contacts=contacts_text, reminder_days=_reminder_days(), errors=errors)


@blueprint.route("/api-keys/<key_id>/revoke", methods=["GET", "POST"])
def revoke_api_key(key_id: str) -> ResponseReturnValue:
    key = _api_key(key_id)
    if request.method == "POST":
        client.call(backends().auth.RevokeApiKey, auth_pb2.RevokeApiKeyRequest(
            user_id=_user_id(), api_key_id=key.id, ip=client_ip()))
        return redirect("/settings?done=key-revoked", code=303)
    return render("settings/confirm.html", title="Revoke this API key?",
                  intro=f"You are about to revoke the API key “{key.label}”, ending {key.last_five}.",
                  consequence="Programs that use it will stop working at once. This cannot be undone.",
                  action=f"/settings/api-keys/{key.id}/revoke", button="Revoke the key")


# Saved credentials ----------------------------------------------------------------------------------------------


def _label_error(errors: FormErrors, label: str) -> None:
    if not label:
        errors.add("label", "Enter a label to save these under, like moh-reminders")


@blueprint.route("/twilio/new", methods=["GET", "POST"])
def new_twilio() -> ResponseReturnValue:
    errors = FormErrors()
    # What is shown again after an error: never the secret.
    values = {name: _field(name) for name in ("label", "account_sid", "api_key", "messaging_service_sid",
                                              "test_recipient")}
    if request.method == "POST":
        secret = request.form.get("api_secret", "").strip()[:MAX_FIELD]
        _label_error(errors, values["label"])
        for name, what in (("account_sid", "the account SID"), ("api_key", "the API key SID")):
            if not values[name]:
                errors.add(name, f"Enter {what}")
        if not secret:
            errors.add("api_secret", "Enter the API key secret")
        if not values["messaging_service_sid"]:
            errors.add("messaging_service_sid", "Enter the messaging service SID")
        if not values["test_recipient"]:
            errors.add("test_recipient", "Enter a mobile number for the test SMS")
        if not errors:
            try:
                stored = client.call(backends().sms_sender.AddTwilioCredential, senders_pb2.AddTwilioCredentialRequest(
                    user_id=_user_id(), campaign_id=0, label=values["label"], test_recipient=values["test_recipient"],
                    account=senders_pb2.TwilioAccountFields(
                        account_sid=values["account_sid"], api_key=values["api_key"], api_secret=secret,
                        messaging_service_sid=values["messaging_service_sid"])),
                    timeout=CREDENTIAL_CHECK_TIMEOUT_SECONDS)
            except ServiceError as exc:
                errors.add({ErrorCode.INVALID_CREDENTIAL_LABEL: "label", ErrorCode.INVALID_RECIPIENT: "test_recipient"}
                           .get(exc.code, "account_sid"), exc.message)
            else:
                audit.record("credential.added", "credential", stored.credential_id,
                             {"channel": "SMS", "label": stored.label or None})
                return redirect("/settings?done=twilio-added", code=303)
    return render("settings/twilio_new.html", 400 if errors else 200, title="Add Twilio credentials",
                  values=values, errors=errors)


@blueprint.route("/telegram/new", methods=["GET", "POST"])
def new_bot() -> ResponseReturnValue:
    errors = FormErrors()
    label = _field("label")
    if request.method == "POST":
        token = request.form.get("bot_token", "").strip()[:MAX_FIELD]
        _label_error(errors, label)
        if not token:
            errors.add("bot_token", "Enter the bot token BotFather gave you")
        if not errors:
            try:
                stored = client.call(backends().telegram_sender.AddBot, senders_pb2.AddBotRequest(
                    user_id=_user_id(), campaign_id=0, label=label, bot_token=token),
                    timeout=CREDENTIAL_CHECK_TIMEOUT_SECONDS)
            except ServiceError as exc:
                errors.add("label" if exc.code == ErrorCode.INVALID_CREDENTIAL_LABEL else "bot_token", exc.message)
            else:
                audit.record("credential.added", "credential", stored.credential_id,
                             {"channel": "TELEGRAM", "label": stored.label or None})
                return redirect("/settings?done=bot-added", code=303)
    return render("settings/telegram_new.html", 400 if errors else 200, title="Add a Telegram bot", label=label,
                  errors=errors)


@blueprint.route("/credentials/<credential_id>/verify", methods=["GET", "POST"])
def verify_credential(credential_id: str) -> ResponseReturnValue:
    credential = _credential(credential_id)
    errors = FormErrors()
    recipient = _field("recipient", 40)
    sent = ""
    if request.method == "POST":
        if not recipient:
            errors.add("recipient", "Enter the mobile number to send the test message to")
        else:
            call = (backends().sms_sender.SendTestSms if credential.channel == "SMS"
                    else backends().telegram_sender.SendTestMessage)
            try:
                result = client.call(call, senders_pb2.SendTestRequest(
                    user_id=_user_id(), credential_id=credential.id, recipient=recipient),
                    timeout=CREDENTIAL_CHECK_TIMEOUT_SECONDS)
            except ServiceError as exc:
                errors.add("recipient", exc.message)
            else:
                sent = result.message if result.message != "OK" else f"Test message sent to {recipient}"
    return render("settings/verify.html", 400 if errors else 200, title="Send a test message",
                  credential=credential, kind=CHANNEL_NAMES.get(credential.channel, "credentials"),
                  recipient=recipient, sent=sent, errors=errors)


@blueprint.route("/credentials/<credential_id>/remove", methods=["GET", "POST"])
def remove_credential(credential_id: str) -> ResponseReturnValue:
    credential = _credential(credential_id)
    if request.method == "POST":
        client.call(backends().campaign.DeleteCredential, campaign_pb2.DeleteCredentialRequest(
            user_id=_user_id(), credential_id=credential.id))
        audit.record("credential.removed", "credential", credential.id, {"channel": credential.channel})
        return redirect("/settings?done=credential-removed", code=303)
    kind = CHANNEL_NAMES.get(credential.channel, "credentials")
    return render("settings/confirm.html", title=f"Remove this {kind}?",
                  intro=f"You are about to remove the {kind} “{credential.label}” ({credential.description}).",
                  consequence="Campaigns that use them will need new credentials before they can send.",
                  action=f"/settings/credentials/{credential.id}/remove", button="Remove")

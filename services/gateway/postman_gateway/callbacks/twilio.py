"""``POST /callbacks/twilio/sms/c/<campaign_id>/<recipient_id>/<credential_id>/<sig>``: Twilio's status callbacks.

sender-sms gives Twilio this URL with every campaign SMS (``postman_shared.callbacks``). It sits outside ``/v1``,
without an API key: Twilio cannot hold one. The credential is the URL's own HMAC, which only a holder of
``CALLBACK_SIGNING_KEY`` can make and which ties the URL to one message and credential: a forged or altered URL is a
403 and nothing is queued. A checked report is put on ``sms.status`` as it came (form, the public URL Twilio called,
its ``X-Twilio-Signature``) for sender-sms, which holds the credential and can check Twilio's own signature; Twilio
is answered ``204`` as soon as the broker has confirmed.

The URL is rebuilt from ``PUBLIC_URL`` and the path, not from the request: behind a proxy the request's own URL is
not the one Twilio signed.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from postman_gateway.core.backends import backends
from postman_gateway.core.errors import ErrorCode
from postman_shared.broker import OutgoingMessage
from postman_shared.broker.topology import SMS_STATUS
from postman_shared.callbacks import (
    CAMPAIGN_MESSAGE,
    SMS_STATUS_ROOT,
    TRANSACTIONAL_MESSAGE,
    verify_sms_status,
    verify_transactional_sms_status,
)
from postman_shared.grpc.errors import ServiceError
from postman_shared.logging import get_logger
from postman_shared.messages import SmsStatusReport
from postman_shared.settings import Settings

EXTENSION = "postman_gateway.callbacks.twilio"
# A status callback is a dozen short fields (well under 1 KB); anything far larger is not Twilio.
MAX_CALLBACK_BYTES = 16 * 1024
FORM = "application/x-www-form-urlencoded"
TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"

blueprint = Blueprint("provider_callbacks", __name__)


def install(app: Flask, settings: Settings) -> None:
    app.extensions[EXTENSION] = (settings.callback_signing_key, settings.public_url.rstrip("/"))
    app.register_blueprint(blueprint)


@blueprint.post(f"{SMS_STATUS_ROOT}/{CAMPAIGN_MESSAGE}/<int:campaign_id>/<int:recipient_id>/<int:credential_id>/<sig>")
def sms_status(campaign_id: int, recipient_id: int, credential_id: int, sig: str) -> Response:
    signing_key, public_url = current_app.extensions[EXTENSION]
    if not verify_sms_status(campaign_id, recipient_id, credential_id, sig, signing_key):
        get_logger(component="provider_callbacks").warning(
            "sms status callback refused: the URL's signature does not match", campaign_id=campaign_id,
            recipient_id=recipient_id, credential_id=credential_id)
        raise ServiceError(ErrorCode.UNAUTHORIZED, "This callback URL was not made by Postman: its signature does not "
                                                   "match the ids in it")
    form = _read_form()
    report = SmsStatusReport(
        campaign_id=campaign_id, recipient_id=recipient_id, credential_id=credential_id,
        message_sid=form["MessageSid"], status=form["MessageStatus"], error_code=form.get("ErrorCode") or None,
        url=public_url + request.path, params=form, signature=request.headers.get(TWILIO_SIGNATURE_HEADER, ""),
    )
    backends().publisher.get().publish([OutgoingMessage(SMS_STATUS, report.to_dict(), report.message_id)])
    return Response(status=204)


@blueprint.post(f"{SMS_STATUS_ROOT}/{TRANSACTIONAL_MESSAGE}/<int:sms_id>/<int:credential_id>/<sig>")
def transactional_sms_status(sms_id: int, credential_id: int, sig: str) -> Response:
    signing_key, public_url = current_app.extensions[EXTENSION]
    if not verify_transactional_sms_status(sms_id, credential_id, sig, signing_key):
        get_logger(component="provider_callbacks").warning(
            "transactional sms status callback refused: the URL's signature does not match", sms_id=sms_id,
            credential_id=credential_id)
        raise ServiceError(ErrorCode.UNAUTHORIZED, "This callback URL was not made by Postman: its signature does not "
                                                   "match the ids in it")
    form = _read_form()
    report = SmsStatusReport(
        campaign_id=0, recipient_id=0, credential_id=credential_id, transactional_sms_id=sms_id,
        message_sid=form["MessageSid"], status=form["MessageStatus"], error_code=form.get("ErrorCode") or None,
        url=public_url + request.path, params=form, signature=request.headers.get(TWILIO_SIGNATURE_HEADER, ""),
    )
    backends().publisher.get().publish([OutgoingMessage(SMS_STATUS, report.to_dict(), report.message_id)])
    return Response(status=204)


def _read_form() -> dict[str, str]:
    """The form Twilio posted, as a flat dict of strings; a 400 or 413 when it is not a small status callback."""
    if request.mimetype != FORM:
        raise ServiceError(ErrorCode.MALFORMED,
                           f"The body must be form-encoded ({FORM}), as Twilio sends status callbacks")
    if (request.content_length or 0) > MAX_CALLBACK_BYTES:
        raise _too_large()
    body = request.stream.read(MAX_CALLBACK_BYTES + 1)  # bounded even without a Content-Length (chunked)
    if len(body) > MAX_CALLBACK_BYTES:
        raise _too_large()
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)))
    except (UnicodeDecodeError, ValueError):
        raise ServiceError(ErrorCode.MALFORMED, f"The body must be form-encoded ({FORM}) UTF-8 text") from None
    for field in ("MessageSid", "MessageStatus"):
        if not form.get(field):
            raise ServiceError(ErrorCode.MALFORMED, f'"{field}" is missing: a Twilio status callback always carries it')
    return form


def _too_large() -> RequestEntityTooLarge:
    return RequestEntityTooLarge(f"A status callback is at most {MAX_CALLBACK_BYTES} bytes")

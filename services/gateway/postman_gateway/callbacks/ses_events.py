"""``POST /callbacks/ses/events``: Amazon SES's events about sent emails, delivered by SNS.

SES publishes what becomes of a message (Send, Delivery, Bounce, Complaint, Open...) for the messages sent with a
configuration set that has an SNS event destination; SNS POSTs each one here, as a JSON document in a
``text/plain`` body. The route sits outside ``/v1`` without an API key: SNS cannot hold one. Instead:

1. the topic must be one of ``SES_EVENTS_TOPIC_ARNS`` (empty: everything is refused), so a topic of someone else's
   AWS account subscribed to this URL gets nowhere;
2. the SNS signature must verify (``sns.SnsVerifier``) with a certificate from SNS in a configured region, and the
   message must have been signed within the hour (sender-email drops a message id it has already applied);
3. each client IP may post ``SNS_IP_LIMIT_PER_MINUTE`` messages a minute (SNS stays far below it), so a flood of
   forged messages cannot keep the gateway busy with certificate fetches and RSA checks.

A forged or foreign message is a 403 and nothing is queued. A ``SubscriptionConfirmation`` of an allowed topic is
confirmed by GETting its ``SubscribeURL`` (itself an SNS URL). A ``Notification`` is reduced to an ``EmailEvent`` and
put on ``email.events`` for sender-email, which moves the transactional email the SES message id names; SNS is
answered 204 once the broker has confirmed. When the certificate or SubscribeURL cannot be fetched the answer is
503, so SNS tries again later.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from postman_gateway.callbacks.sns import (
    FETCH_TIMEOUT_SECONDS,
    NOTIFICATION,
    SUBSCRIPTION_CONFIRMATION,
    NotFromSns,
    SnsUnreachable,
    SnsVerifier,
    topic_region,
)
from postman_gateway.core.auth import client_ip
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import ErrorCode
from postman_gateway.core.limiting import check_sns_limit
from postman_shared.broker import OutgoingMessage
from postman_shared.broker.topology import EMAIL_EVENTS
from postman_shared.grpc.errors import ServiceError
from postman_shared.logging import get_logger
from postman_shared.messages import EmailEvent
from postman_shared.settings import Settings

EXTENSION = "postman_gateway.callbacks.ses_events"
PATH = "/callbacks/ses/events"
# SNS messages are at most 256 KB; the JSON envelope around them (escaping) can double that.
MAX_MESSAGE_BYTES = 512 * 1024
# Where each SES event type keeps the time it happened (Send and Reject have none: the mail's own timestamp).
_TIMES = {"Delivery": "delivery", "Bounce": "bounce", "Complaint": "complaint", "Open": "open", "Click": "click",
          "DeliveryDelay": "deliveryDelay"}

blueprint = Blueprint("ses_events", __name__)
log = get_logger(component="ses_events")


def install(app: Flask, settings: Settings, verifier: SnsVerifier | None = None) -> None:
    topics = frozenset(t.strip() for t in settings.ses_events_topic_arns.split(",") if t.strip())
    # Certificates only from SNS in the regions Postman uses: SES's, and those of the accepted topics.
    regions = {settings.ses_region} | {topic_region(topic) for topic in topics}
    app.extensions[EXTENSION] = (topics, verifier or SnsVerifier(settings.sns_cert_url_prefix, regions=regions))
    app.register_blueprint(blueprint)


@blueprint.post(PATH)
def ses_events() -> Response:
    topics, verifier = current_app.extensions[EXTENSION]
    check_sns_limit(client_ip())  # before any parsing, certificate fetch or RSA check
    message = _read_message()
    topic = message.get("TopicArn")
    if topic not in topics:
        log.warning("sns message refused: its topic is not one of SES_EVENTS_TOPIC_ARNS", topic=str(topic)[:200])
        raise ServiceError(ErrorCode.UNAUTHORIZED, "This SNS topic is not one whose SES events Postman accepts "
                                                   "(SES_EVENTS_TOPIC_ARNS)")
    try:
        verifier.verify(message)
    except NotFromSns as refused:
        log.warning("sns message refused", topic=topic, reason=str(refused))
        raise ServiceError(ErrorCode.UNAUTHORIZED, f"Not a genuine SNS message: {refused}") from None
    except SnsUnreachable as unreachable:
        log.warning("sns certificate unreachable", topic=topic, reason=str(unreachable))
        raise ServiceError(ErrorCode.SERVICE_UNAVAILABLE, "The SNS signing certificate cannot be fetched now") from None
    if message["Type"] == SUBSCRIPTION_CONFIRMATION:
        _confirm(verifier, message)
    elif message["Type"] == NOTIFICATION:
        event = email_event(message)
        if event is not None:
            backends().publisher.get().publish([OutgoingMessage(EMAIL_EVENTS, event.to_dict(), event.message_id)])
    else:
        log.info("sns unsubscribe confirmation", topic=topic)
    return Response(status=204)


def email_event(message: dict[str, Any]) -> EmailEvent | None:
    """The EmailEvent of an SNS notification holding an SES event (event publishing's ``eventType`` or a feedback
    notification's ``notificationType``); None for a notification that is not about a sent email."""
    try:
        ses = json.loads(message["Message"])
    except (TypeError, ValueError):
        raise ServiceError(ErrorCode.MALFORMED, "The SNS Message is not an SES event (not JSON)") from None
    if not isinstance(ses, dict):
        raise ServiceError(ErrorCode.MALFORMED, "The SNS Message is not an SES event (not a JSON object)")
    event_type = ses.get("eventType") or ses.get("notificationType")
    mail = ses.get("mail")
    if not isinstance(event_type, str) or not isinstance(mail, dict) or not isinstance(mail.get("messageId"), str):
        log.info("sns notification is not an ses event about a sent email", sns_message_id=message.get("MessageId"))
        return None
    detail, bounce, complaint = (_object(ses, key) for key in (_TIMES.get(event_type, ""), "bounce", "complaint"))
    occurred_at = detail.get("timestamp") or mail.get("timestamp") or message.get("Timestamp")
    recipients, diagnostic = _recipients(event_type, detail, bounce, complaint, _object(ses, "reject"),
                                         _object(ses, "failure"))
    return EmailEvent(
        provider_message_id=mail["messageId"], event_type=event_type, occurred_at=str(occurred_at),
        bounce_type=_text(bounce.get("bounceType")), bounce_sub_type=_text(bounce.get("bounceSubType")),
        complaint_type=_text(complaint.get("complaintFeedbackType")), sns_message_id=str(message.get("MessageId", "")),
        recipients=recipients, diagnostic=diagnostic,
    )


def _recipients(event_type: str, detail: dict[str, Any], bounce: dict[str, Any], complaint: dict[str, Any],
                reject: dict[str, Any], failure: dict[str, Any]) -> tuple[tuple[str, ...], str | None]:
    """The addresses an event is about (who bounced, complained, was delivered to) and the remote server's words.
    A cc or bcc copy's event names only that copy, so the main recipient's message is left as it is."""
    if event_type == "Bounce":
        bounced = [r for r in bounce.get("bouncedRecipients") or [] if isinstance(r, dict)]
        addresses = [_text(r.get("emailAddress")) for r in bounced]
        codes = [_text(r.get("diagnosticCode")) for r in bounced]
        return tuple(a for a in addresses if a), next((c[:500] for c in codes if c), None)
    if event_type == "Complaint":
        addresses = [_text(r.get("emailAddress")) for r in complaint.get("complainedRecipients") or []
                     if isinstance(r, dict)]
        return tuple(a for a in addresses if a), None
    if event_type == "Delivery":
        return tuple(a for a in detail.get("recipients") or [] if isinstance(a, str) and a), None
    reason = _text(reject.get("reason")) or _text(failure.get("errorMessage"))
    return (), reason[:500] if reason else None


def _object(document: dict[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key)
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _confirm(verifier: SnsVerifier, message: dict[str, Any]) -> None:
    url = message.get("SubscribeURL")
    if not isinstance(url, str) or not verifier.is_sns_url(url):
        raise ServiceError(ErrorCode.UNAUTHORIZED, "Not a genuine SNS message: SubscribeURL is not an SNS URL")
    try:
        requests.get(url, timeout=FETCH_TIMEOUT_SECONDS).raise_for_status()
    except requests.RequestException as exc:
        log.warning("sns subscription could not be confirmed", topic=message.get("TopicArn"),
                    error=type(exc).__name__)
        raise ServiceError(ErrorCode.SERVICE_UNAVAILABLE, "The SNS subscription could not be confirmed now") from None
    log.info("sns subscription confirmed", topic=message.get("TopicArn"))


def _read_message() -> dict[str, Any]:
    """The JSON document SNS posted (any content type: SNS sends text/plain); 403 when it is not one."""
    if (request.content_length or 0) > MAX_MESSAGE_BYTES:
        raise RequestEntityTooLarge(f"An SNS message is at most {MAX_MESSAGE_BYTES} bytes")
    body = request.stream.read(MAX_MESSAGE_BYTES + 1)
    if len(body) > MAX_MESSAGE_BYTES:
        raise RequestEntityTooLarge(f"An SNS message is at most {MAX_MESSAGE_BYTES} bytes")
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        message = None
    if not isinstance(message, dict):
        raise ServiceError(ErrorCode.UNAUTHORIZED, "Not a genuine SNS message: the body is not an SNS JSON document")
    return message

"""The email that carries a one-time password, sent on the priority queue so no campaign delays it."""

from __future__ import annotations

import html
import uuid

from postman_shared.broker.publisher import OutgoingMessage, Publisher, PublishError
from postman_shared.broker.topology import EMAIL_PRIORITY
from postman_shared.grpc.errors import ErrorCode, ServiceError
from postman_shared.messages import PriorityEmail

SUBJECT = "Your Postman one-time password"


def compose(to: str, password: str, ip: str, valid_minutes: int, sender: str) -> PriorityEmail:
    body = (
        "<p>Your one-time password for Postman is:</p>"
        f'<p style="font-size:24px;font-weight:bold;letter-spacing:4px">{html.escape(password)}</p>'
        f"<p>It is valid for {valid_minutes} minutes and can be used once.</p>"
        f"<p>It was requested from the IP address {html.escape(ip or 'unknown')}. "
        "If you did not ask for it, you can ignore this email: nobody can sign in without the password.</p>"
    )
    return PriorityEmail(message_id=f"otp-{uuid.uuid4()}", to=to, sender=sender, subject=SUBJECT, body=body)


def send(publisher: Publisher, email: PriorityEmail) -> None:
    """Publishes the email and waits for the broker's confirm; service_unavailable when it is not confirmed."""
    message = OutgoingMessage(routing_key=EMAIL_PRIORITY, body=email.to_dict(), message_id=email.message_id)
    try:
        publisher.publish([message], timeout=10.0)
    except PublishError:
        raise ServiceError(
            ErrorCode.SERVICE_UNAVAILABLE,
            "The one-time password could not be sent just now. Please try again shortly.",
        ) from None

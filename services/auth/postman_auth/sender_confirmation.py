"""The email that proves a user owns a sender address: a single-use link to the confirmation page, mailed to the
address on the priority path (as a one-time password is), so nobody can use an address whose mailbox they do not
read."""

from __future__ import annotations

import html
import uuid
from urllib.parse import quote

from postman_shared.broker.publisher import OutgoingMessage, Publisher, PublishError
from postman_shared.broker.topology import EMAIL_PRIORITY
from postman_shared.grpc.errors import ErrorCode, ServiceError
from postman_shared.messages import PriorityEmail

CONFIRM_PATH = "/sender-addresses/confirm"


def link(public_url: str, token: str) -> str:
    return f"{public_url}{CONFIRM_PATH}?token={quote(token, safe='.')}"


def compose(address: str, requester: str, token: str, public_url: str, valid_hours: int, ip: str,
            sender: str) -> PriorityEmail:
    url = link(public_url, token)
    hours = "hour" if valid_hours == 1 else "hours"
    body = (
        f"<p>{html.escape(requester)} asked to send email from <b>{html.escape(address)}</b> on Postman, the "
        "government's mass-messaging platform.</p>"
        f'<p>If that is you, or someone allowed to send from this address, confirm it: <a href="{html.escape(url)}">'
        f"{html.escape(url)}</a></p>"
        f"<p>The link works once, for {valid_hours} {hours}. It was asked for from the IP address "
        f"{html.escape(ip or 'unknown')}.</p>"
        "<p>If you did not expect this, ignore this email: nothing is sent from your address unless the link is "
        "followed.</p>"
    )
    return PriorityEmail(message_id=f"sender-confirm-{uuid.uuid4()}", to=address, sender=sender,
                         subject=f"Confirm {address} as a sender address on Postman", body=body)


def send(publisher: Publisher, email: PriorityEmail) -> None:
    """Publishes the email and waits for the broker's confirm; service_unavailable when it is not confirmed."""
    message = OutgoingMessage(routing_key=EMAIL_PRIORITY, body=email.to_dict(), message_id=email.message_id)
    try:
        publisher.publish([message], timeout=10.0)
    except PublishError:
        raise ServiceError(ErrorCode.SERVICE_UNAVAILABLE, "The confirmation email could not be sent just now. Please "
                           "try again shortly.") from None

"""Transactional SMS: one message, sent at once with a saved Twilio credential of the user, its status then moved
by Twilio's delivery receipts (SENT, DELIVERED, ERROR).

The row is written (UNSENT) before Twilio is called and updated with Twilio's answer after, so a message is never
sent without a record; a crash between the two leaves it UNSENT, which is what the caller was told (no 201). It does
not wait behind campaigns: it never goes through a queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from postman_sender_sms import webhook_events
from postman_sender_sms.metrics import TRANSACTIONAL_MESSAGES
from postman_sender_sms.models import TransactionalSms
from postman_sender_sms.provider_credentials import CredentialUnusable, TwilioSenders
from postman_shared import message_listing
from postman_shared.callbacks import transactional_sms_status_path
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, NotFound
from postman_shared.logging import get_logger
from postman_shared.message_listing import MessageQuery
from postman_shared.outcomes import MessageStatus
from postman_shared.simulation import simulated_outcome
from postman_shared.timestamps import utcnow
from postman_shared.transactional_statuses import TransactionalSmsStatus as Status
from postman_shared.validators import normalise_phone

STATUSES = tuple(Status)
MAX_BODY_CHARACTERS = 1600  # Twilio refuses a longer body
# How a delivery receipt moves a message: a later status never goes back to an earlier one.
_RANK = {Status.UNSENT: 0, Status.ACCEPTED: 1, Status.SENT: 2, Status.DELIVERED: 3, Status.ERROR: 3}

log = get_logger(component="transactional-sms")


@dataclass(frozen=True)
class SmsToSend:
    user_id: int
    credential_id: int
    credentials_label: str
    recipient: str
    body: str
    simulated: bool = False  # a test API key: recorded with a simulated outcome, Twilio is not called


def checked_body(body: str) -> str:
    text = body.strip()
    if not text:
        raise InvalidArgument("body is required and must not be empty", code=ErrorCode.API_VALIDATION)
    if len(text) > MAX_BODY_CHARACTERS:
        raise InvalidArgument(f"body is {len(text):,} characters long; an SMS may be at most "
                              f"{MAX_BODY_CHARACTERS:,}", code=ErrorCode.API_VALIDATION)
    return text


def send(database: Database, senders: TwilioSenders, request: SmsToSend, region: str,
         status_callback: Callable[[int, int], str | None] = lambda sms_id, credential_id: None) -> TransactionalSms:
    """Records, sends and returns the message: ACCEPTED when Twilio took it. A refusal by Twilio is recorded
    (ERROR) and raised as an error the caller understands."""
    body = checked_body(request.body)
    recipient = normalise_phone(request.recipient, region)
    if recipient is None:
        raise InvalidArgument(f"recipient {request.recipient[:40]!r} is not a valid phone number",
                              code=ErrorCode.INVALID_RECIPIENT)
    try:
        sender = senders.for_message(request.credential_id, request.user_id)
    except CredentialUnusable as exc:
        raise InvalidArgument(f"The saved credentials {request.credentials_label!r} cannot be used: {exc.reason}",
                              code=ErrorCode.INVALID_CREDENTIALS) from None
    with database.unit_of_work() as session:
        row = TransactionalSms(user_id=request.user_id, credential_id=request.credential_id,
                               credentials_label=request.credentials_label, recipient=recipient, body=body,
                               status=Status.UNSENT)
        session.add(row)
        session.flush()
        message_id = row.id
    if request.simulated:
        outcome = simulated_outcome(f"t{message_id}", recipient)
    else:
        outcome = sender.send(f"t{message_id}", recipient, body,
                              status_callback=status_callback(message_id, request.credential_id))
    now = utcnow()
    with database.unit_of_work() as session:
        row = session.get_one(TransactionalSms, message_id)
        row.updated_at = now
        row.provider_message_id = outcome.provider_message_id
        if outcome.status == MessageStatus.SENT:
            row.status, row.accepted_at = Status.ACCEPTED, now
        else:
            row.status, row.errored_at = Status.ERROR, now
            row.error_code, row.error_reason = outcome.error_code, outcome.reason
        session.flush()
        session.refresh(row)
        webhook_events.status_changed(session, row, request.simulated)  # the sender's webhook, with the change
        session.expunge(row)
    TRANSACTIONAL_MESSAGES.labels(transport="simulated" if request.simulated else "twilio", status=row.status).inc()
    log.info("transactional sms", sms_id=message_id, user_id=request.user_id, status=row.status,
             error_code=row.error_code)
    if row.status == Status.ERROR:
        code = (ErrorCode.INVALID_RECIPIENT if row.error_code in ("twilio_21211", "twilio_21614",
                                                                  "simulated_invalid_number", "simulated_undelivered")
                else ErrorCode.INVALID_CREDENTIALS)
        raise InvalidArgument(f"Twilio did not take the message ({row.error_code}): {row.error_reason}", code=code)
    return row


def status_callback_url(public_url: str, signing_key: str) -> Callable[[int, int], str | None]:
    """The signed status callback URL of a transactional SMS at the gateway; none when PUBLIC_URL is empty."""
    base = public_url.rstrip("/")

    def url(sms_id: int, credential_id: int) -> str | None:
        return base + transactional_sms_status_path(sms_id, credential_id, signing_key) if base else None

    return url


def get(database: Database, user_id: int, sms_id: int) -> TransactionalSms:
    with database.session() as session:
        row = session.get(TransactionalSms, sms_id)
        if row is None or row.user_id != user_id:
            raise NotFound("SMS message")
        session.expunge(row)
        return row


def list_messages(database: Database, query: MessageQuery) -> tuple[list[TransactionalSms], bool]:
    """One page of the user's SMS and whether there are more."""
    return message_listing.page_of(database, TransactionalSms, query)


def check_query(query: MessageQuery) -> MessageQuery:
    return message_listing.check_query(query, STATUSES)


def apply_receipt(database: Database, sms_id: int, status: str, error_code: str | None,
                  reason: str | None = None) -> bool:
    """Moves a message by a Twilio receipt (SENT, DELIVERED or ERROR); a status never goes back. Returns whether
    anything changed (a repeated receipt changes nothing)."""
    now = utcnow()
    with database.unit_of_work() as session:
        row = session.scalars(select(TransactionalSms).where(TransactionalSms.id == sms_id)
                              .with_for_update()).one_or_none()
        if row is None or _RANK[status] <= _RANK[row.status]:
            return False
        row.status, row.updated_at = status, now
        if status == Status.SENT:
            row.sent_at = now
        elif status == Status.DELIVERED:
            row.delivered_at = now
        else:
            row.errored_at, row.error_code, row.error_reason = now, error_code, reason
        session.flush()
        webhook_events.status_changed(session, row)
    log.info("transactional sms receipt", sms_id=sms_id, status=status, error_code=error_code)
    return True

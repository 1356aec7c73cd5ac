"""Transactional email: one message, checked, recorded and sent at once through a transport of its own, its status
then moved by the provider's events (SES: Send, Delivery, Bounce, Complaint, Open).

The row is written (UNSENT) before the transport is called and updated with the transport's answer after, so a
message is never sent without a record; a crash between the two leaves it UNSENT, which is what the caller was told
(no 201). It never goes through a queue and never shares a connection with a campaign, so however many campaign
messages wait on ``email.send``, it does not wait behind them.

Statuses: UNSENT -> ACCEPTED (the transport took it) -> SENT -> DELIVERED -> OPENED, or BOUNCED / COMPLAINT. SMTP and
the outbox report nothing later, so a message they took is SENT at once (the answer of the send still says ACCEPTED,
as the contract wants). An event never moves a message back; BOUNCED and COMPLAINT win over DELIVERED and OPENED.

A test API key's email is checked and recorded like any other, but no transport sees it: it gets the outcome of
``postman_shared.simulation`` for its recipient, and then the status the provider's events would have given it
(DELIVERED; BOUNCED or COMPLAINT for the simulator's bounce and complaint addresses).

Logs name a message by its id and its recipient's domain only, never an address or the content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import getaddresses

from sqlalchemy import select

from postman_sender_email import mime, webhook_events
from postman_sender_email.metrics import TRANSACTIONAL_MESSAGES
from postman_sender_email.models import TransactionalEmail
from postman_sender_email.transactional_mail import Attachment, TransactionalMail
from postman_sender_email.transports import EmailTransport, Outcome
from postman_shared import message_listing, sender_rule
from postman_shared.db import Database
from postman_shared.email_html import clean_email_html
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, NotFound, ServiceError
from postman_shared.logging import get_logger
from postman_shared.message_listing import MessageQuery
from postman_shared.messages import EmailEvent
from postman_shared.outcomes import MessageStatus
from postman_shared.sender_client import VerifiedSenders, lookup_for
from postman_shared.simulation import simulated_outcome
from postman_shared.timestamps import utcnow
from postman_shared.transactional_statuses import TransactionalEmailStatus as Status
from postman_shared.validators import is_valid_email, normalise_email

STATUSES = tuple(Status)
CLASSIFICATIONS = ("URGENT", "FOR_ACTION", "FOR_INFO")
MAX_BODY_BYTES = 1024 * 1024  # of UTF-8
MAX_COPIES = 49  # cc and bcc together
MAX_TAG_CHARACTERS = 255
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024  # all files together
# Transports that report nothing after taking a message: taken is as far as it will ever be known to have gone.
NO_LATER_EVENTS = ("smtp", "outbox")
# How an event moves a message: a later status never goes back to an earlier one.
_RANK = {Status.UNSENT: 0, Status.ACCEPTED: 1, Status.SENT: 2, Status.DELIVERED: 3, Status.OPENED: 4, Status.BOUNCED: 5,
         Status.COMPLAINT: 5}
# SES event type -> the status it means. Others (DeliveryDelay, Click, Rendering Failure...) move nothing.
EVENT_STATUSES = {"Send": Status.SENT, "Delivery": Status.DELIVERED, "Open": Status.OPENED, "Bounce": Status.BOUNCED,
                  "Complaint": Status.COMPLAINT, "Reject": Status.BOUNCED}
# The status -> the column that says when it happened.
_STATUS_TIMES = {Status.SENT: "sent_at", Status.DELIVERED: "delivered_at", Status.OPENED: "opened_at"}
# A test key's simulated outcomes that a provider would accept, then report: the status they end in.
_SIMULATED_AFTER_ACCEPTANCE = {"simulated_bounce": Status.BOUNCED, "simulated_complaint": Status.COMPLAINT}
# Refusals that are about the address (the caller can fix it), as opposed to the message or the account.
_RECIPIENT_REFUSALS = ("MessageRejected", "smtp_550", "smtp_551", "smtp_553", "invalid_recipient")

log = get_logger(component="transactional-email")


@dataclass(frozen=True)
class EmailToSend:
    user_id: int
    recipient: str
    subject: str
    body: str
    from_address: str = ""  # empty: the default sender
    cc: Sequence[str] = ()
    bcc: Sequence[str] = ()
    reply_to: str = ""
    tag: str = ""
    classification: str = ""
    disable_tracking: bool = False
    attachments: Sequence[Attachment] = ()
    simulated: bool = False  # a test API key: a simulated outcome, no transport


@dataclass(frozen=True)
class CheckedEmail:
    """An email that may be sent: bare addresses, the From header to use, the body sanitised."""

    user_id: int
    sender: str
    recipient: str
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    reply_to: str | None
    subject: str
    body: str
    tag: str | None
    classification: str | None
    disable_tracking: bool
    attachments: tuple[Attachment, ...] = field(repr=False)


# --- checking -------------------------------------------------------------------------------------------------------

def one_address(value: str, field_name: str) -> str:
    """The bare address of ``value`` ("addr" or "Name <addr>"), which must hold exactly one valid address."""
    found = [address for _name, address in getaddresses([value]) if address]
    if len(found) != 1:
        raise InvalidArgument(f"{field_name} must be one email address; {value[:80]!r} holds {len(found)}",
                              code=ErrorCode.INVALID_RECIPIENT)
    address = normalise_email(found[0])
    if not is_valid_email(address):
        raise InvalidArgument(f"{field_name} {value[:80]!r} is not a valid email address",
                              code=ErrorCode.INVALID_RECIPIENT)
    return address


def sender_header(from_address: str, default_from: str,
                  verified: Collection[str] | Callable[[], Collection[str]] = ()) -> str:
    """The From header: the default sender's address under the caller's display name ("<name> via Postman"), or
    one of the caller's ``verified`` sender addresses; anything else is ``invalid_from_address``. The one rule of
    campaign and transactional email, ``postman_shared.sender_rule``."""
    return sender_rule.allowed_sender(from_address, default_from, verified).header


def check(request: EmailToSend, default_from: str,
          verified: Collection[str] | Callable[[], Collection[str]] = ()) -> CheckedEmail:
    """The email as it will be sent, or an error that names the field at fault. ``verified``: the caller's verified
    sender addresses (a function asked only when the From is not the default address)."""
    if not request.subject.strip():
        raise InvalidArgument("subject is required and must not be empty", code=ErrorCode.API_VALIDATION)
    if not request.body.strip():
        raise InvalidArgument("body is required and must not be empty", code=ErrorCode.API_VALIDATION)
    size = len(request.body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise InvalidArgument(f"body is {size:,} bytes long; it may be at most {MAX_BODY_BYTES:,} bytes (1 MiB) "
                              "in UTF-8", code=ErrorCode.API_VALIDATION)
    recipient = one_address(request.recipient, "recipient")
    if len(request.cc) + len(request.bcc) > MAX_COPIES:
        raise InvalidArgument(f"cc and bcc hold {len(request.cc) + len(request.bcc)} addresses together; at most "
                              f"{MAX_COPIES} are allowed", code=ErrorCode.API_VALIDATION)
    cc = _distinct(one_address(value, f"cc[{n}]") for n, value in enumerate(request.cc))
    bcc = _distinct(one_address(value, f"bcc[{n}]") for n, value in enumerate(request.bcc))
    bcc = tuple(address for address in bcc if address not in cc)
    reply_to = one_address(request.reply_to, "reply_to") if request.reply_to.strip() else None
    if len(request.tag) > MAX_TAG_CHARACTERS:
        raise InvalidArgument(f"tag is {len(request.tag)} characters long; at most {MAX_TAG_CHARACTERS} are allowed",
                              code=ErrorCode.API_VALIDATION)
    classification = request.classification.strip().upper() or None
    if classification is not None and classification not in CLASSIFICATIONS:
        raise InvalidArgument(f"classification must be one of {', '.join(CLASSIFICATIONS)}",
                              code=ErrorCode.API_VALIDATION)
    total = sum(len(a.content) for a in request.attachments)
    if total > MAX_ATTACHMENT_BYTES:
        raise ServiceError(ErrorCode.ATTACHMENT_LIMIT, f"The attachments are {total:,} bytes together; at most "
                                                       f"{MAX_ATTACHMENT_BYTES:,} bytes (10 MB) are allowed")
    return CheckedEmail(
        user_id=request.user_id, sender=sender_header(request.from_address, default_from, verified),
        recipient=recipient,
        cc=cc, bcc=bcc, reply_to=reply_to, subject=mime.one_line(request.subject), body=clean_email_html(request.body),
        tag=request.tag or None, classification=classification, disable_tracking=request.disable_tracking,
        attachments=tuple(request.attachments),
    )


def _distinct(addresses: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(addresses))


def attachments_metadata(attachments: Sequence[Attachment]) -> list[dict[str, object]] | None:
    """``[{fileName, fileSize, hash}]`` as the API shows it (hash: sha256 in hex); None without attachments."""
    if not attachments:
        return None
    return [{"fileName": a.file_name, "fileSize": len(a.content), "hash": hashlib.sha256(a.content).hexdigest()}
            for a in attachments]


# --- sending --------------------------------------------------------------------------------------------------------

# The global suppression list as a transactional email sees it: address -> (reason, since when), for the
# suppressed addresses among those given (hard bounces and complaints; never an owner's unsubscribes).
Screen = Callable[[Sequence[str]], Mapping[str, tuple[str, str]]]
_SUPPRESSED_BECAUSE = {"hard_bounce": "bounced permanently", "complaint": "marked an earlier email as spam",
                       "manual": "was added to the suppression list"}


def screened(email: CheckedEmail, screen: Screen | None) -> CheckedEmail:
    """Refuses an email whose recipient is on the global suppression list (a 400 that says why); copies to
    suppressed addresses are dropped, as upstream Postman drops blacklisted cc and bcc."""
    if screen is None:
        return email
    found = screen([email.recipient, *email.cc, *email.bcc])
    if email.recipient in found:
        reason, since = found[email.recipient]
        raise InvalidArgument(
            f"recipient {email.recipient} {_SUPPRESSED_BECAUSE.get(reason, 'is on the suppression list')} "
            f"(on the suppression list since {since}); Postman does not send to it again. If the address works "
            "again, ask support to lift it", code=ErrorCode.INVALID_RECIPIENT)
    if not any(address in found for address in (*email.cc, *email.bcc)):
        return email
    log.info("suppressed copies of a transactional email dropped", user_id=email.user_id,
             dropped=sum(address in found for address in (*email.cc, *email.bcc)))
    return replace(email, cc=tuple(a for a in email.cc if a not in found),
                   bcc=tuple(a for a in email.bcc if a not in found))


def send(database: Database, transport: EmailTransport, request: EmailToSend,
         default_from: str, screen: Screen | None = None, senders: VerifiedSenders | None = None) -> TransactionalEmail:
    """Checks, records, sends and returns the message as accepted. A refusal by the provider is recorded (the
    message stays UNSENT with its error code) and raised as an error the caller understands. ``screen`` is the
    global suppression list (None: not screened); ``senders`` the callers' verified sender addresses (None: only the
    default address may be used)."""
    verified = lookup_for(senders, request.user_id) if senders is not None else ()
    email = screened(check(request, default_from, verified), screen)
    with database.unit_of_work() as session:
        row = TransactionalEmail(
            user_id=email.user_id, from_address=email.sender, recipient=email.recipient, cc=list(email.cc),
            bcc=list(email.bcc), reply_to=email.reply_to, subject=email.subject, body=email.body, tag=email.tag,
            classification=email.classification, disable_tracking=email.disable_tracking,
            attachments_metadata=attachments_metadata(email.attachments), status=Status.UNSENT)
        session.add(row)
        session.flush()
        email_id = row.id
    mail = TransactionalMail(
        message_id=f"tx-{email_id}", to=email.recipient, sender=email.sender, subject=email.subject, body=email.body,
        reply_to=email.reply_to, cc=email.cc, bcc=email.bcc, attachments=email.attachments,
        classification=email.classification, track_opens=not email.disable_tracking)
    if request.simulated:
        outcome = simulated_outcome(mail.message_id, mail.to)
    else:
        [outcome] = transport.send_batch([mail])
    simulated_status = Status.DELIVERED
    if request.simulated and outcome.error_code in _SIMULATED_AFTER_ACCEPTANCE:
        # The provider takes a message that bounces or draws a complaint: that is known only later.
        simulated_status = _SIMULATED_AFTER_ACCEPTANCE[outcome.error_code]
        outcome = Outcome.sent(outcome.message_id, f"simulated-{email_id}")
    transport_name = "simulated" if request.simulated else transport.name
    now = utcnow()
    with database.unit_of_work() as session:
        row = session.get_one(TransactionalEmail, email_id)
        row.updated_at = now
        if outcome.status == MessageStatus.SENT:
            row.status, row.accepted_at, row.provider_message_id = Status.ACCEPTED, now, outcome.provider_message_id
        else:
            row.error_code = outcome.error_code
        session.flush()
        session.refresh(row)
        webhook_events.status_changed(session, row, request.simulated)  # the sender's webhook, with the change
        session.expunge(row)
    taken = outcome.status == MessageStatus.SENT
    TRANSACTIONAL_MESSAGES.labels(transport=transport_name, status="ACCEPTED" if taken else (
        "UNAVAILABLE" if outcome.transient else "REFUSED")).inc()
    log.info("transactional email", email_id=email_id, user_id=email.user_id, transport=transport_name,
             domain=email.recipient.rpartition("@")[2], copies=len(email.cc) + len(email.bcc),
             attachments=len(email.attachments), status=row.status, error_code=row.error_code)
    if outcome.status != MessageStatus.SENT:
        if outcome.transient or outcome.error_code == "simulated_failure":
            raise ServiceError(ErrorCode.SERVICE_UNAVAILABLE, "The mail provider cannot take the message now; it "
                                                              "was not sent. Try again in a little while.")
        code = (ErrorCode.INVALID_RECIPIENT if outcome.error_code in _RECIPIENT_REFUSALS
                else ErrorCode.INVALID_PARAMETERS)
        raise InvalidArgument(f"The mail provider refused the message ({outcome.error_code}): {outcome.reason}",
                              code=code)
    if request.simulated:
        _simulate_events(database, email_id, simulated_status, now)
    elif transport.name in NO_LATER_EVENTS:
        _mark_sent(database, email_id, now, simulated=False)
    return row


def _simulate_events(database: Database, email_id: int, final: str, when: datetime) -> None:
    """A test key's accepted email: SENT, DELIVERED, and the simulator's final status, as SES would report them."""
    _mark_sent(database, email_id, when, simulated=True)
    with database.unit_of_work() as session:
        row = session.get_one(TransactionalEmail, email_id)
        row.status, row.delivered_at, row.updated_at = final, when, when
        if final == Status.BOUNCED:
            row.delivered_at = None
            row.error_code, row.error_sub_type = "bounce_permanent", "Simulated"
        elif final == Status.COMPLAINT:
            row.error_code, row.error_sub_type = "complaint", "Simulated"
        session.flush()
        webhook_events.status_changed(session, row, simulated=True)


def _mark_sent(database: Database, email_id: int, when: datetime, simulated: bool) -> None:
    with database.unit_of_work() as session:
        row = session.scalars(select(TransactionalEmail)
                              .where(TransactionalEmail.id == email_id, TransactionalEmail.status == Status.ACCEPTED)
                              .with_for_update()).one_or_none()
        if row is None:
            return
        row.status, row.sent_at, row.updated_at = Status.SENT, when, when
        session.flush()
        webhook_events.status_changed(session, row, simulated)


# --- reading --------------------------------------------------------------------------------------------------------

def list_messages(database: Database, query: MessageQuery) -> tuple[list[TransactionalEmail], bool]:
    """One page of the user's emails and whether there are more."""
    return message_listing.page_of(database, TransactionalEmail, query)


def check_query(query: MessageQuery) -> MessageQuery:
    return message_listing.check_query(query, STATUSES)


def get(database: Database, user_id: int, email_id: int) -> TransactionalEmail:
    with database.session() as session:
        row = session.get(TransactionalEmail, email_id)
        if row is None or row.user_id != user_id:
            raise NotFound("Email message")
        session.expunge(row)
        return row


# --- provider events ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Applied:
    matched: bool  # the event names a transactional email
    changed: bool  # it moved its status or filled in a time
    recipient: str | None = None  # the email's (main) recipient, when matched


def apply_event(database: Database, event: EmailEvent) -> Applied:
    """Moves the message SES names by one of its events; a status never goes back, and an event that does not move
    the status still fills in when it happened (a Send that arrives after the Delivery). A repeated event, or one
    about a copy (cc, bcc) only, changes nothing; neither does one about a message that is not a transactional
    email (``matched`` False)."""
    if event.delivery_id:  # a bounce report of a campaign message's return path
        return Applied(False, False)
    status = EVENT_STATUSES.get(event.event_type)
    when = _instant(event.occurred_at)
    with database.unit_of_work() as session:
        row = session.scalars(select(TransactionalEmail)
                              .where(TransactionalEmail.provider_message_id == event.provider_message_id)
                              .with_for_update()).first()
        if row is None:
            return Applied(False, False)
        recipient = row.recipient
        about = {address.strip().lower() for address in event.recipients}
        if status is None or (about and recipient not in about):
            return Applied(True, False, recipient)
        changed = False
        column = _STATUS_TIMES.get(status)
        if column is not None and getattr(row, column) is None:
            setattr(row, column, when)
            changed = True
        moved = _RANK[status] > _RANK[row.status]
        if moved:
            row.status = status
            changed = True
            if status == Status.BOUNCED:
                bounce = "rejected" if event.event_type == "Reject" else f"bounce_{event.bounce_type or 'undetermined'}"
                row.error_code, row.error_sub_type = _short(bounce.lower()), _short(event.bounce_sub_type)
            elif status == Status.COMPLAINT:
                row.error_code, row.error_sub_type = "complaint", _short(event.complaint_type)
        if changed:
            row.updated_at = utcnow()
        if moved:  # a new status (not only a time filled in): the sender's webhook is told, with the change
            session.flush()
            webhook_events.status_changed(session, row)
        email_id, now_status = row.id, row.status
    if changed:
        log.info("transactional email event", email_id=email_id, event_type=event.event_type, status=now_status)
    return Applied(True, changed, recipient)


def _short(value: str | None) -> str | None:
    """A provider's code as a column of 64 characters holds it; None for nothing."""
    return value[:64] if value else None


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return utcnow()
    return value if value.tzinfo else utcnow()

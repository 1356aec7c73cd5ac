"""What one message of the bounce mailbox says, in SES's words: pure functions, no I/O.

With SMTP there is no provider event feed, so the reports that come back to a campaign message's VERP return path
(``return_path.py``) are the feed: a delivery status notification (RFC 3464) becomes ``Bounce`` events, a complaint
(RFC 5965 ARF) a ``Complaint`` event, exactly as SES would have published them, so everything downstream of
``email.events`` cannot tell the transports apart. A message to the List-Unsubscribe mailto address becomes an
unsubscribe request.

Everything here is attacker-controlled text: anyone can mail the bounce mailbox. So a report counts only when its
return path carries our signature (otherwise it is ``forged``: anyone could suppress any address or halt any
campaign), an unsubscribe only when its token verifies for the sender's address, and nothing here raises or uses a
regular expression on that text. What cannot be understood is ``unreadable``: left in the mailbox for a person,
never deleted unread.
"""

from __future__ import annotations

import email
import email.utils
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.parser import HeaderParser

from postman_sender_email.return_path import message_id_of
from postman_shared.messages import EmailEvent
from postman_shared.unsubscribe_links import UnsubscribeLinks, parse_mailto_token

DIAGNOSTIC_CHARACTERS = 500
_ADDRESS_CHARACTERS = 320  # the longest an address can be (64 + 1 + 255)

# RFC 3463 status codes in SES's bounce sub-types.
_NO_EMAIL = frozenset({"5.1.1", "5.1.10", "5.1.2", "5.1.6"})
_MAILBOX_FULL = frozenset({"5.2.2", "4.2.2"})
_TOO_LARGE = frozenset({"5.3.4", "5.2.3"})
# A DSN's Action values that report a message that did not arrive (RFC 3464 2.3.3); delivered, relayed and expanded
# are successes, and say nothing to act on.
_FAILED, _DELAYED = "failed", "delayed"


@dataclass(frozen=True)
class UnsubscribeRequest:
    campaign_id: int
    recipient: str  # the request's From address, as its token was signed for


@dataclass(frozen=True)
class Report:
    """One message of the mailbox, read: its kind (bounce, delay, complaint, unsubscribe, unknown), what to do with
    it (applied: publish its events or apply its request, then delete it; forged: delete it; unreadable: leave it
    for a person), and the events or request it carries."""

    kind: str
    outcome: str
    events: tuple[EmailEvent, ...] = ()
    unsubscribe: UnsubscribeRequest | None = None


UNREADABLE = Report("unknown", "unreadable")


def read_report(raw: bytes, bounce_address: str, signing_key: str, *, unsubscribe_mailto: str = "",
                links: UnsubscribeLinks | None = None, now: datetime | None = None) -> Report:
    """What the message ``raw`` says. ``bounce_address`` and ``signing_key`` recognise our return paths;
    ``unsubscribe_mailto`` and ``links`` (both or neither) recognise unsubscribe requests; ``now`` dates a report
    that carries no date of its own."""
    try:
        message = email.message_from_bytes(raw)
        when = now or datetime.now(UTC)
        report_type = _report_type(message)
        if report_type == "delivery-status":
            return _delivery_status(message, bounce_address, signing_key, when)
        if report_type == "feedback-report":
            return _feedback_report(message, bounce_address, signing_key, when)
        if unsubscribe_mailto and links is not None:
            return _unsubscribe_request(message, unsubscribe_mailto, links) or UNREADABLE
        return UNREADABLE  # an auto-reply, a bounce in no standard format, a letter: for a person
    except Exception:  # noqa: BLE001 - a hostile message must not stop the reader: it is left for a person
        return UNREADABLE


def bounce_sub_type(status: str, bounce_type: str) -> str:
    """SES's bounce sub-type of an RFC 3463 status code ("5.1.1" -> "NoEmail")."""
    if status in _MAILBOX_FULL:
        return "MailboxFull"
    if bounce_type == "Transient":
        return "General"
    if status in _NO_EMAIL:
        return "NoEmail"
    if status in _TOO_LARGE:
        return "MessageTooLarge"
    if status.startswith("5.7."):
        return "ContentRejected"
    return "General"


# -- delivery status notifications (RFC 3464) ---------------------------------------------------------------------

def _delivery_status(message: Message, bounce_address: str, key: str, now: datetime) -> Report:
    blocks = _field_blocks(_report_part(message, "message/delivery-status"))
    recipient_blocks = [block for block in blocks if _field(block, "Action")]
    if not recipient_blocks:
        return UNREADABLE
    delivery_id = _first_ours(_verp_candidates(message, ("To", "Delivered-To", "X-Original-To")), bounce_address, key)
    if delivery_id is None:
        return Report("bounce", "forged")
    per_message = blocks[0] if not _field(blocks[0], "Action") else None  # Arrival-Date, Reporting-MTA...
    when = _when(message, per_message, now)
    events, delays = [], 0
    for block in recipient_blocks:
        action = _field(block, "Action").lower().split(maxsplit=1)[0]
        status = _status_code(_field(block, "Status"))
        if action == _DELAYED or (action == _FAILED and status.startswith("4.")):
            bounce_type = "Transient"
        elif action == _FAILED:
            bounce_type = "Permanent"
        else:
            continue
        delays += action == _DELAYED
        recipient = _recipient(_field(block, "Final-Recipient") or _field(block, "Original-Recipient"))
        diagnostic = _field(block, "Diagnostic-Code")[:DIAGNOSTIC_CHARACTERS] or None
        events.append(EmailEvent(
            provider_message_id=delivery_id, event_type="Bounce", occurred_at=when, bounce_type=bounce_type,
            bounce_sub_type=bounce_sub_type(status, bounce_type), recipients=recipient, diagnostic=diagnostic,
            delivery_id=delivery_id,
        ))
    # Only successes (delivered, relayed, expanded): ours, and nothing to publish.
    kind = "delay" if events and delays == len(events) else "bounce"
    return Report(kind, "applied", tuple(events))


def _status_code(value: str) -> str:
    """The "class.subject.detail" code of a Status field ("5.1.1 (user unknown)" -> "5.1.1"); "" if none."""
    code = value.split(maxsplit=1)[0] if value else ""
    parts = code.split(".")
    if len(parts) != 3 or parts[0] not in ("2", "4", "5"):
        return ""
    if not all(part.isascii() and part.isdigit() and len(part) <= 3 for part in parts):
        return ""
    return code


# -- complaints (RFC 5965 ARF) --------------------------------------------------------------------------------------

def _feedback_report(message: Message, bounce_address: str, key: str, now: datetime) -> Report:
    blocks = _field_blocks(_report_part(message, "message/feedback-report"))
    fields = blocks[0] if blocks else None
    feedback_type = _field(fields, "Feedback-Type").lower() if fields is not None else ""
    if not feedback_type or not feedback_type.replace("-", "").replace("_", "").isalnum() or len(feedback_type) > 32:
        return UNREADABLE
    candidates = [*_addresses([_field(fields, "Original-Mail-From")]),
                  *_verp_candidates(message, ("To",))]
    delivery_id = _first_ours(candidates, bounce_address, key)
    if delivery_id is None:
        return Report("complaint", "forged")
    event = EmailEvent(
        provider_message_id=delivery_id, event_type="Complaint", occurred_at=_when(message, fields, now),
        complaint_type=feedback_type, recipients=_recipient(_field(fields, "Original-Rcpt-To")),
        delivery_id=delivery_id,
    )
    return Report("complaint", "applied", (event,))


# -- unsubscribe requests to the List-Unsubscribe mailto address ---------------------------------------------------

def _unsubscribe_request(message: Message, mailto: str, links: UnsubscribeLinks) -> Report | None:
    """An unsubscribe request when the message is addressed to ``<mailto local>+<token>@<mailto domain>``; None
    when it is not addressed there at all (a person writing to the bare address is left for a person)."""
    prefix, _, domain = mailto.rpartition("@")
    for address in _addresses(_all(message, "To") + _all(message, "Delivered-To")):
        local, _, address_domain = address.rpartition("@")
        if address_domain.lower() != domain.lower() or not local.lower().startswith(prefix.lower() + "+"):
            continue
        token = parse_mailto_token(local, prefix)
        sender = email.utils.parseaddr(_field(message, "From"))[1].strip()
        if token is None or not sender or len(sender) > _ADDRESS_CHARACTERS:
            return Report("unsubscribe", "forged")
        campaign_id, version, digest = token
        for recipient in dict.fromkeys((sender, sender.lower())):
            if links.verify(campaign_id, recipient, version, digest):
                return Report("unsubscribe", "applied", unsubscribe=UnsubscribeRequest(campaign_id, recipient))
        return Report("unsubscribe", "forged")
    return None


# -- reading MIME parts and fields ------------------------------------------------------------------------------------

def _report_type(message: Message) -> str:
    if message.get_content_type() != "multipart/report" or not message.is_multipart():
        return ""
    report_type = message.get_param("report-type")
    return report_type.strip().lower() if isinstance(report_type, str) else ""


def _report_part(message: Message, content_type: str) -> Message | None:
    """The first part of this type among the report's own parts (never inside a quoted original message)."""
    for part in _parts(message):
        if part.get_content_type() == content_type:
            return part
    return None


def _parts(message: Message) -> list[Message]:
    payload = message.get_payload()
    return [part for part in payload if isinstance(part, Message)] if isinstance(payload, list) else []


def _field_blocks(part: Message | None) -> list[Message]:
    """The blocks of fields of a message/delivery-status or message/feedback-report part. The parser already splits
    a 7-bit one into blocks; an encoded one (a few MTAs base64 it) is decoded and split here."""
    if part is None:
        return []
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    body = part.get_payload(decode=True)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(payload)
    blocks = text.replace("\r\n", "\n").split("\n\n")
    return [HeaderParser().parsestr(block) for block in blocks if block.strip()]


def _original_headers(message: Message) -> Message | None:
    """The headers of the message the report is about (a text/rfc822-headers or message/rfc822 part)."""
    for part in _parts(message):
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            included = _parts(part)
            return included[0] if included else None
        if content_type == "text/rfc822-headers":
            body = part.get_payload(decode=True)
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(part.get_payload())
            return HeaderParser().parsestr(text, headersonly=True)
    return None


def _verp_candidates(message: Message, headers: Iterable[str]) -> list[str]:
    """The addresses that may be our return path, in order: the report's own headers, then the Return-Path of
    the included original."""
    candidates = _addresses(value for name in headers for value in _all(message, name))
    original = _original_headers(message)
    if original is not None:
        candidates += _addresses(_all(original, "Return-Path"))
    return candidates


def _first_ours(candidates: Iterable[str], bounce_address: str, key: str) -> str | None:
    for candidate in candidates:
        if len(candidate) <= _ADDRESS_CHARACTERS and (delivery_id := message_id_of(candidate, bounce_address, key)):
            return delivery_id
    return None


def _addresses(values: Iterable[str]) -> list[str]:
    return [address for _name, address in email.utils.getaddresses([value for value in values if value])
            if "@" in address]


def _recipient(value: str) -> tuple[str, ...]:
    """The address of a recipient field ("rfc822; Someone@Example.com" -> ("someone@example.com",)); () when it
    holds none, which an event reads as "every recipient" (a campaign message has one)."""
    address = value.rpartition(";")[2].strip().strip("<>").strip().lower()
    return (address,) if "@" in address and len(address) <= _ADDRESS_CHARACTERS else ()


def _when(message: Message, fields: Message | None, now: datetime) -> str:
    """ISO-8601 UTC, as SES writes it: the report's Date, else its Arrival-Date, else now."""
    for value in (_field(message, "Date"), _field(fields, "Arrival-Date") if fields is not None else ""):
        try:
            moment = email.utils.parsedate_to_datetime(value) if value else None
        except (TypeError, ValueError, IndexError, OverflowError):
            moment = None
        if moment is not None:
            return _iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return _iso(now)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _all(message: Message, name: str) -> list[str]:
    return [str(value) for value in message.get_all(name, [])]


def _field(fields: Message | None, name: str) -> str:
    """A field's value, unfolded ("smtp; 550 ...\\n    rejected" -> "smtp; 550 ... rejected"); "" if absent."""
    value = fields.get(name) if fields is not None else None
    return " ".join(str(value).split()) if value is not None else ""

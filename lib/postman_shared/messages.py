"""The messages that travel on the queues, one dataclass each, encoded as JSON.

Producer-assigned message ids: a send job is ``job-<job_id>``; a rendered message and its delivery event carry the
recipient's id (``<recipient_id>``), unique across campaigns, so every stage can recognise a redelivery. A message of
a retry job (``retry``) is ``<recipient_id>.<job_id>``: a new message to the senders, which record outcomes by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


def rendered_message_id(recipient_id: int, job_id: int, retry: bool) -> str:
    """The id of a rendered campaign message: the recipient's id, or ``<recipient_id>.<job_id>`` for a retry."""
    return f"{recipient_id}.{job_id}" if retry else str(recipient_id)


def _fields(message: Any) -> dict[str, Any]:
    """The fields of a message whose fields are all scalars, in their declared order: what ``asdict`` returns, without
    its recursive deep copy (a hot path: every rendered message and every delivery event is encoded once)."""
    return dict(message.__dict__)


def _retry_flag(d: dict[str, Any]) -> bool:
    retry = d.get("retry", False)
    if not isinstance(retry, bool):
        raise TypeError("retry must be true or false")
    return retry


@dataclass(frozen=True)
class SendJob:
    """campaign -> renderer, on CAMPAIGN_SEND: render and publish every valid recipient of the campaign."""

    job_id: int
    campaign_id: int
    user_id: int

    @property
    def message_id(self) -> str:
        return f"job-{self.job_id}"

    def to_dict(self) -> dict[str, Any]:
        return _fields(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SendJob":
        return cls(job_id=int(d["job_id"]), campaign_id=int(d["campaign_id"]), user_id=int(d["user_id"]))


@dataclass(frozen=True)
class RenderedEmail:
    """renderer -> sender-email, on EMAIL_SEND: one personalised email, ready to send."""

    recipient_id: int
    campaign_id: int
    job_id: int
    to: str
    sender: str  # the From header, "Name <addr>" or "addr"
    reply_to: str | None
    subject: str
    body: str  # HTML
    retry: bool = False  # a message of a retry job
    simulated: bool = False  # sent with a test API key: the sender records a simulated outcome, calls no provider
    user_id: int = 0  # the campaign's owner (the suppression list is screened for them); 0 in older messages
    unsubscribe_url: str | None = None  # the recipient's one-click unsubscribe link (List-Unsubscribe)
    unsubscribe_mailto: str | None = None  # the mailto form of it; None: not configured
    text: str | None = None  # the plain-text part (the email is then multipart/alternative); None in older messages

    @property
    def message_id(self) -> str:
        return rendered_message_id(self.recipient_id, self.job_id, self.retry)

    def to_dict(self) -> dict[str, Any]:
        return _fields(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RenderedEmail":
        unsubscribe_url, unsubscribe_mailto, text = d.get("unsubscribe_url"), d.get("unsubscribe_mailto"), d.get("text")
        if not all(v is None or isinstance(v, str) for v in (unsubscribe_url, unsubscribe_mailto, text)):
            raise TypeError("unsubscribe_url, unsubscribe_mailto and text must be strings or null")
        return cls(
            recipient_id=int(d["recipient_id"]), campaign_id=int(d["campaign_id"]), job_id=int(d["job_id"]),
            to=d["to"], sender=d["sender"], reply_to=d.get("reply_to"), subject=d["subject"], body=d["body"],
            retry=_retry_flag(d), simulated=d.get("simulated") is True, user_id=int(d.get("user_id") or 0),
            unsubscribe_url=unsubscribe_url, unsubscribe_mailto=unsubscribe_mailto, text=text,
        )


@dataclass(frozen=True)
class RenderedSms:
    """renderer -> sender-sms, on SMS_SEND: one personalised SMS, ready to send with the user's stored credential."""

    recipient_id: int
    campaign_id: int
    job_id: int
    user_id: int  # the credential's owner: the sealed credential opens only for this user
    to: str  # E.164
    body: str  # plain text
    credential_id: int
    rate: int | None = None  # the campaign's messages per second; None (older messages): SMS_DEFAULT_RATE
    simulated: bool = False  # sent with a test API key: the sender records a simulated outcome, calls no provider
    retry: bool = False  # a message of a retry job

    @property
    def message_id(self) -> str:
        return rendered_message_id(self.recipient_id, self.job_id, self.retry)

    def to_dict(self) -> dict[str, Any]:
        return _fields(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RenderedSms":
        return cls(**_text_message_fields(d))


@dataclass(frozen=True)
class RenderedTelegram:
    """renderer -> sender-telegram, on TELEGRAM_SEND: one personalised Telegram message for a phone number; the
    sender finds the chat of the person who subscribed to the credential's bot with that number."""

    recipient_id: int
    campaign_id: int
    job_id: int
    user_id: int  # the credential's owner: the sealed bot token opens only for this user
    to: str  # E.164 phone number
    body: str  # Telegram HTML (b, i, u, s, a, code, pre only)
    credential_id: int
    rate: int | None = None  # messages per second for the campaign; None: TELEGRAM_MAX_RATE
    simulated: bool = False  # sent with a test API key: the sender records a simulated outcome, calls no provider
    retry: bool = False  # a message of a retry job

    @property
    def message_id(self) -> str:
        return rendered_message_id(self.recipient_id, self.job_id, self.retry)

    def to_dict(self) -> dict[str, Any]:
        return _fields(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RenderedTelegram":
        return cls(**_text_message_fields(d))


@dataclass(frozen=True)
class TelegramUpdate:
    """gateway -> sender-telegram, on TELEGRAM_UPDATES: one webhook update of a registered bot, whose secret token
    the gateway has checked. ``update`` is Telegram's Update object as received."""

    credential_id: int
    update: dict[str, Any]

    @property
    def message_id(self) -> str:
        return f"tg-update-{self.credential_id}-{self.update.get('update_id')}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TelegramUpdate":
        if not isinstance(d["update"], dict):
            raise TypeError("update must be an object")
        return cls(credential_id=int(d["credential_id"]), update=d["update"])


@dataclass(frozen=True)
class SmsStatusReport:
    """gateway -> sender-sms, on SMS_STATUS: one Twilio status callback of a campaign SMS, whose URL signature the
    gateway has checked. ``url`` (the public URL Twilio called), ``params`` (the form as received) and ``signature``
    (X-Twilio-Signature, "" when absent) are what Twilio's own request signature is checked against."""

    campaign_id: int
    recipient_id: int
    credential_id: int
    message_sid: str
    status: str  # Twilio's MessageStatus: queued, sent, delivered, undelivered, failed...
    error_code: str | None  # Twilio's ErrorCode, e.g. "30003"
    url: str
    params: dict[str, str]
    signature: str
    transactional_sms_id: int = 0  # set (campaign and recipient ids 0) for a transactional SMS's callback

    @property
    def message_id(self) -> str:
        if self.transactional_sms_id:
            return f"sms-status-t{self.transactional_sms_id}-{self.status}"
        return f"sms-status-{self.recipient_id}-{self.status}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SmsStatusReport":
        params = d["params"]
        if not isinstance(params, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in params.items()):
            raise TypeError("params must be an object of strings")
        texts = {name: d[name] for name in ("message_sid", "status", "url", "signature")}
        if not all(isinstance(value, str) for value in texts.values()):
            raise TypeError("message_sid, status, url and signature must be strings")
        error_code = d.get("error_code")
        if error_code is not None and not isinstance(error_code, str):
            raise TypeError("error_code must be a string")
        return cls(campaign_id=int(d["campaign_id"]), recipient_id=int(d["recipient_id"]),
                   credential_id=int(d["credential_id"]), error_code=error_code, params=params,
                   transactional_sms_id=int(d.get("transactional_sms_id") or 0), **texts)


@dataclass(frozen=True)
class DeliveryEvent:
    """sender -> stats, on DELIVERY_EVENTS: what happened to one message (``postman_shared.outcomes``).

    ``kind`` "delivery": the sender's outcome (SENT | ERROR | BLACKLISTED | UNSUBSCRIBED). ``kind`` "receipt": what
    the provider reported after it took the message (DELIVERED | OPENED | SOFT_BOUNCED | BOUNCED | COMPLAINT |
    ERROR); ``job_id`` is 0 there, the sender of a receipt does not know it."""

    recipient_id: int
    campaign_id: int
    job_id: int
    status: str
    error_code: str | None = None
    reason: str | None = None
    kind: str = "delivery"  # delivery | receipt
    error_sub_type: str | None = None  # a bounce's sub-type (NoEmail, MailboxFull...), a complaint's type (abuse...)

    @property
    def message_id(self) -> str:
        return f"{self.kind}-{self.recipient_id}"

    def to_dict(self) -> dict[str, Any]:
        return _fields(self)


@dataclass(frozen=True)
class JobRendered:
    """renderer -> stats, on DELIVERY_EVENTS: every valid recipient of the job has been published."""

    job_id: int
    campaign_id: int
    total: int  # how many messages were published for the job in all
    kind: str = "job_rendered"

    @property
    def message_id(self) -> str:
        return f"rendered-{self.job_id}"

    def to_dict(self) -> dict[str, Any]:
        return _fields(self)


# A batch of delivery events of one campaign job in one queue message: {"kind": "events", "campaign_id", "job_id",
# "events": [event, ...]}. A sender announces each batch's outcomes this way, one publish, confirm, delivery and ack
# for up to a batch of recipients instead of one each (in RabbitMQ's and pika's CPU, most of a message's cost).
EVENT_BATCH_KIND = "events"


def event_batch_bodies(events: Sequence[DeliveryEvent]) -> list[tuple[str, dict[str, Any]]]:
    """The events as (message id, body) pairs: one body per campaign job (its ids are the message's correlation
    headers), the events in their order. The id names the job, first recipient and count: a redelivered batch
    announces the same message again (stats ignores events it has recorded)."""
    by_job: dict[tuple[int, int], list[DeliveryEvent]] = {}
    for event in events:
        by_job.setdefault((event.campaign_id, event.job_id), []).append(event)
    bodies = []
    for (campaign_id, job_id), group in by_job.items():
        message_id = f"events-{campaign_id}-{job_id}-{group[0].kind}-{group[0].recipient_id}-{len(group)}"
        bodies.append((message_id, {"kind": EVENT_BATCH_KIND, "campaign_id": campaign_id, "job_id": job_id,
                                    "events": [_fields(event) for event in group]}))
    return bodies


def inner_events(d: dict[str, Any]) -> list[dict[str, Any]]:
    """The events a DELIVERY_EVENTS message carries: the list of an event batch, else the message itself."""
    if d.get("kind") != EVENT_BATCH_KIND:
        return [d]
    inner = d.get("events")
    if not isinstance(inner, list) or not all(isinstance(event, dict) for event in inner):
        raise TypeError("an event batch's events must be a list of objects")
    return inner


def parse_event(d: dict[str, Any]) -> DeliveryEvent | JobRendered:
    """Decodes a DELIVERY_EVENTS message; raises KeyError/ValueError/TypeError when it is malformed."""
    if d.get("kind") == "job_rendered":
        return JobRendered(job_id=int(d["job_id"]), campaign_id=int(d["campaign_id"]), total=int(d["total"]))
    kind = d.get("kind", "delivery")
    if kind not in ("delivery", "receipt"):
        raise ValueError(f"unknown event kind {kind!r}")
    sub_type = d.get("error_sub_type")
    if sub_type is not None and not isinstance(sub_type, str):
        raise TypeError("error_sub_type must be a string or null")
    return DeliveryEvent(
        recipient_id=int(d["recipient_id"]), campaign_id=int(d["campaign_id"]), job_id=int(d["job_id"]),
        status=str(d["status"]), error_code=d.get("error_code"), reason=d.get("reason"), kind=kind,
        error_sub_type=sub_type,
    )


@dataclass(frozen=True)
class PriorityEmail:
    """auth -> sender-email, on EMAIL_PRIORITY: one urgent email (a one-time password) that must not wait behind
    campaigns. Not part of any campaign: no delivery event; the outcome is recorded under ``message_id``.
    campaign -> sender-email, on EMAIL_TEST: a campaign's test email, the same shape on a queue of its own."""

    message_id: str  # e.g. "otp-<uuid>", "test-<campaign>-<uuid>"
    to: str
    sender: str
    subject: str
    body: str  # HTML
    reply_to: str | None = None
    text: str | None = None  # the plain-text part (a campaign's test email has one); None in older messages
    simulated: bool = False  # a test email asked with a test API key: a simulated outcome, no provider is called

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PriorityEmail":
        text = d.get("text")
        if text is not None and not isinstance(text, str):
            raise TypeError("text must be a string or null")
        simulated = d.get("simulated", False)
        if not isinstance(simulated, bool):
            raise TypeError("simulated must be a boolean")
        return cls(message_id=str(d["message_id"]), to=d["to"], sender=d["sender"], subject=d["subject"],
                   body=d["body"], reply_to=d.get("reply_to"), text=text, simulated=simulated)


@dataclass(frozen=True)
class EmailEvent:
    """gateway or sender-email's bounce-mailbox reader -> sender-email, on EMAIL_EVENTS: one thing that happened to
    an email after the provider took it: an SES event (through SNS, whose signature the gateway has checked) or a
    bounce (RFC 3464) or complaint (RFC 5965) report read from the VERP bounce mailbox. It moves a transactional
    email's status, or becomes a receipt of a campaign message for stats."""

    provider_message_id: str  # SES's MessageId, as SendEmail returned it; a report's: the delivery id
    event_type: str  # SES's eventType / notificationType: Send, Delivery, Bounce, Complaint, Open, Reject...
    occurred_at: str  # ISO-8601, when SES says it happened
    bounce_type: str | None = None  # Permanent | Transient | Undetermined
    bounce_sub_type: str | None = None  # General, NoEmail, Suppressed, MailboxFull...
    complaint_type: str | None = None  # the complaint's feedback type: abuse, fraud, not-spam...
    sns_message_id: str = ""  # SNS's id of the notification: the same event delivered twice has the same one
    # The addresses the event is about (bounced or complained recipients, delivered ones); empty: every recipient.
    # An event about a copy (cc/bcc) only leaves the message as it is.
    recipients: tuple[str, ...] = ()
    diagnostic: str | None = None  # the remote server's words (a bounce's diagnostic code)
    delivery_id: str = ""  # set by the bounce-mailbox reader: the email_deliveries id its VERP address names

    @property
    def message_id(self) -> str:
        if self.delivery_id:
            return f"email-report-{self.delivery_id}-{self.event_type}"
        return f"email-event-{self.sns_message_id or self.provider_message_id + '-' + self.event_type}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EmailEvent":
        provider_message_id, event_type, occurred_at = d["provider_message_id"], d["event_type"], d["occurred_at"]
        if not all(isinstance(value, str) and value for value in (provider_message_id, event_type, occurred_at)):
            raise TypeError("provider_message_id, event_type and occurred_at must be non-empty strings")
        bounce_type, bounce_sub_type, complaint_type = d.get("bounce_type"), d.get("bounce_sub_type"), d.get(
            "complaint_type")
        if not all(value is None or isinstance(value, str) for value in (bounce_type, bounce_sub_type, complaint_type)):
            raise TypeError("bounce_type, bounce_sub_type and complaint_type must be strings or null")
        recipients, diagnostic = d.get("recipients") or [], d.get("diagnostic")
        if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
            raise TypeError("recipients must be a list of strings")
        if diagnostic is not None and not isinstance(diagnostic, str):
            raise TypeError("diagnostic must be a string or null")
        return cls(provider_message_id=provider_message_id, event_type=event_type, occurred_at=occurred_at,
                   bounce_type=bounce_type, bounce_sub_type=bounce_sub_type, complaint_type=complaint_type,
                   sns_message_id=str(d.get("sns_message_id") or ""), recipients=tuple(recipients),
                   diagnostic=diagnostic, delivery_id=str(d.get("delivery_id") or ""))


def _text_message_fields(d: dict[str, Any]) -> dict[str, Any]:
    """The fields of a RenderedSms or RenderedTelegram (they share their shape); raises KeyError, ValueError or
    TypeError when one is missing or malformed."""
    if not isinstance(d["to"], str) or not isinstance(d["body"], str):
        raise TypeError("to and body must be strings")
    rate = d.get("rate")
    if rate is not None and (isinstance(rate, bool) or int(rate) < 1):
        raise ValueError(f"rate must be a whole number of messages per second, at least 1, not {rate!r}")
    return dict(
        recipient_id=int(d["recipient_id"]), campaign_id=int(d["campaign_id"]), job_id=int(d["job_id"]),
        user_id=int(d["user_id"]), to=d["to"], body=d["body"], credential_id=int(d["credential_id"]),
        rate=None if rate is None else int(rate), simulated=d.get("simulated") is True, retry=_retry_flag(d),
    )


@dataclass(frozen=True)
class OwnerNotice:
    """campaign -> auth, on OWNER_NOTICES: an email to a campaign's owner (their campaign finished or halted, the
    weekly digest of unsubscribes). Auth knows the owner's address; it emails the notice on ``email.priority``
    under ``notice_id`` (sender-email sends one id once) and, when ``audit_action`` is set, records that action in
    the audit trail."""

    notice_id: str  # e.g. "notice-finished-<job_id>": at most 64 characters
    user_id: int
    subject: str
    body: str  # HTML
    audit_action: str = ""  # e.g. "campaign.halted"; "": nothing to record
    audit_target_type: str = ""
    audit_target_id: int = 0
    audit_details: dict[str, Any] | None = None

    @property
    def message_id(self) -> str:
        return self.notice_id

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "OwnerNotice":
        texts = {name: d.get(name, "") for name in ("notice_id", "subject", "body", "audit_action",
                                                     "audit_target_type")}
        if not all(isinstance(value, str) for value in texts.values()) or not 0 < len(texts["notice_id"]) <= 64:
            raise TypeError("notice_id (1 to 64 characters), subject, body and the audit fields must be strings")
        details = d.get("audit_details")
        if details is not None and not isinstance(details, dict):
            raise TypeError("audit_details must be an object or null")
        return cls(user_id=int(d["user_id"]), audit_target_id=int(d.get("audit_target_id") or 0),
                   audit_details=details, **texts)

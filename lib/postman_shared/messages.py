"""The messages that travel on the queues, one dataclass each, encoded as JSON.

Producer-assigned message ids: a send job is ``job-<job_id>``; a rendered message and its delivery event carry the
recipient's id (``<recipient_id>``), unique across campaigns, so every stage can recognise a redelivery.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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
        return asdict(self)

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

    @property
    def message_id(self) -> str:
        return str(self.recipient_id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RenderedEmail":
        return cls(
            recipient_id=int(d["recipient_id"]), campaign_id=int(d["campaign_id"]), job_id=int(d["job_id"]),
            to=d["to"], sender=d["sender"], reply_to=d.get("reply_to"), subject=d["subject"], body=d["body"],
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

    @property
    def message_id(self) -> str:
        return str(self.recipient_id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RenderedSms":
        if not isinstance(d["to"], str) or not isinstance(d["body"], str):
            raise TypeError("to and body must be strings")
        rate = d.get("rate")
        if rate is not None and (isinstance(rate, bool) or int(rate) < 1):
            raise ValueError(f"rate must be a whole number of messages per second, at least 1, not {rate!r}")
        return cls(
            recipient_id=int(d["recipient_id"]), campaign_id=int(d["campaign_id"]), job_id=int(d["job_id"]),
            user_id=int(d["user_id"]), to=d["to"], body=d["body"], credential_id=int(d["credential_id"]),
            rate=None if rate is None else int(rate),
        )


@dataclass(frozen=True)
class DeliveryEvent:
    """sender -> stats, on DELIVERY_EVENTS: what happened to one message."""

    recipient_id: int
    campaign_id: int
    job_id: int
    status: str  # SENT | ERROR
    error_code: str | None = None
    reason: str | None = None
    kind: str = "delivery"

    @property
    def message_id(self) -> str:
        return f"delivery-{self.recipient_id}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
        return asdict(self)


def parse_event(d: dict[str, Any]) -> DeliveryEvent | JobRendered:
    """Decodes a DELIVERY_EVENTS message; raises KeyError/ValueError/TypeError when it is malformed."""
    if d.get("kind") == "job_rendered":
        return JobRendered(job_id=int(d["job_id"]), campaign_id=int(d["campaign_id"]), total=int(d["total"]))
    return DeliveryEvent(
        recipient_id=int(d["recipient_id"]), campaign_id=int(d["campaign_id"]), job_id=int(d["job_id"]),
        status=str(d["status"]), error_code=d.get("error_code"), reason=d.get("reason"),
    )


@dataclass(frozen=True)
class PriorityEmail:
    """auth -> sender-email, on EMAIL_PRIORITY: one urgent email (a one-time password) that must not wait behind
    campaigns. Not part of any campaign: no delivery event; the outcome is recorded under ``message_id``."""

    message_id: str  # e.g. "otp-<uuid>"
    to: str
    sender: str
    subject: str
    body: str  # HTML
    reply_to: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PriorityEmail":
        return cls(message_id=str(d["message_id"]), to=d["to"], sender=d["sender"], subject=d["subject"],
                   body=d["body"], reply_to=d.get("reply_to"))

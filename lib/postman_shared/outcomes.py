"""What can become of one campaign message, in one place: the statuses senders and receipts report, how they rank
(a status never moves back), and which counter of the campaign's statistics each one is in.

A sender reports what it did with the message (``SENDER_STATUSES``): handed it to the provider (SENT), failed to
(ERROR), or did not send it because the recipient is on the suppression list (BLACKLISTED) or unsubscribed from the
owner's campaigns (UNSUBSCRIBED). The provider then reports what happened after it took the message
(``RECEIPT_STATUSES``): DELIVERED, OPENED, a soft or hard bounce, a complaint, or an ERROR (an SMS receipt
"undelivered", an SES Reject or Rendering Failure).

The statistics keep Postman's four counters, which always add up with the unsent ones to the recipients:
``sent`` (SENT, DELIVERED, OPENED), ``error``, ``invalid`` (bounced, complained and blacklisted recipients, as
upstream counts its INVALID_RECIPIENT messages, plus the file's invalid rows) and ``unsubscribed``.
"""

from __future__ import annotations

from enum import StrEnum


class MessageStatus(StrEnum):
    SENT = "SENT"
    ERROR = "ERROR"
    BLACKLISTED = "BLACKLISTED"
    UNSUBSCRIBED = "UNSUBSCRIBED"
    DELIVERED = "DELIVERED"
    OPENED = "OPENED"
    SOFT_BOUNCED = "SOFT_BOUNCED"
    BOUNCED = "BOUNCED"
    COMPLAINT = "COMPLAINT"


class Bucket(StrEnum):
    """The counter of the campaign's statistics a message is in."""

    SENT = "sent"
    ERROR = "error"
    INVALID = "invalid"
    UNSUBSCRIBED = "unsubscribed"


SENDER_STATUSES = frozenset({MessageStatus.SENT, MessageStatus.ERROR, MessageStatus.BLACKLISTED,
                             MessageStatus.UNSUBSCRIBED})
RECEIPT_STATUSES = frozenset({MessageStatus.DELIVERED, MessageStatus.OPENED, MessageStatus.SOFT_BOUNCED,
                              MessageStatus.BOUNCED, MessageStatus.COMPLAINT, MessageStatus.ERROR})
# Never handed to a provider: no receipt can follow.
NOT_SENT = frozenset({MessageStatus.BLACKLISTED, MessageStatus.UNSUBSCRIBED})

# A receipt moves a message only to a higher rank: a late Delivery never undoes a bounce, a repeated event changes
# nothing, and a bounce or complaint beats delivered and opened.
RANK: dict[MessageStatus, int] = {
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.OPENED: 3,
    MessageStatus.SOFT_BOUNCED: 4,
    MessageStatus.BOUNCED: 5,
    MessageStatus.COMPLAINT: 5,
    MessageStatus.ERROR: 5,
    MessageStatus.BLACKLISTED: 9,
    MessageStatus.UNSUBSCRIBED: 9,
}

BUCKET: dict[MessageStatus, Bucket] = {
    MessageStatus.SENT: Bucket.SENT,
    MessageStatus.DELIVERED: Bucket.SENT,
    MessageStatus.OPENED: Bucket.SENT,
    MessageStatus.ERROR: Bucket.ERROR,
    MessageStatus.SOFT_BOUNCED: Bucket.INVALID,
    MessageStatus.BOUNCED: Bucket.INVALID,
    MessageStatus.COMPLAINT: Bucket.INVALID,
    MessageStatus.BLACKLISTED: Bucket.INVALID,
    MessageStatus.UNSUBSCRIBED: Bucket.UNSUBSCRIBED,
}

# The status an export row shows (upstream Postman's words where it has one: READ, INVALID_RECIPIENT).
EXPORT_STATUS: dict[MessageStatus, str] = {
    MessageStatus.SENT: "SENT",
    MessageStatus.DELIVERED: "DELIVERED",
    MessageStatus.OPENED: "READ",
    MessageStatus.ERROR: "ERROR",
    MessageStatus.SOFT_BOUNCED: "INVALID_RECIPIENT",
    MessageStatus.BOUNCED: "INVALID_RECIPIENT",
    MessageStatus.COMPLAINT: "INVALID_RECIPIENT",
    MessageStatus.BLACKLISTED: "BLACKLISTED",
    MessageStatus.UNSUBSCRIBED: "UNSUBSCRIBED",
}

# Error codes of bounces and complaints (the export's error_code says which of them an INVALID_RECIPIENT is).
HARD_BOUNCE = "hard_bounce"
SOFT_BOUNCE = "soft_bounce"
COMPLAINT = "complaint"


class SuppressionReason(StrEnum):
    HARD_BOUNCE = "hard_bounce"  # global: the address does not exist
    COMPLAINT = "complaint"  # global: the recipient marked a message as spam
    UNSUBSCRIBE = "unsubscribe"  # the owner's: the recipient unsubscribed through a link
    SMS_STOP = "sms_stop"  # the owner's: the number replied STOP (Twilio 21610)
    MANUAL = "manual"  # an officer's own entry (theirs) or support's (global or an owner's)


# The status a message is recorded with when a suppression stops it.
SUPPRESSED_AS: dict[str, MessageStatus] = {
    SuppressionReason.HARD_BOUNCE: MessageStatus.BLACKLISTED,
    SuppressionReason.COMPLAINT: MessageStatus.BLACKLISTED,
    SuppressionReason.MANUAL: MessageStatus.BLACKLISTED,
    SuppressionReason.UNSUBSCRIBE: MessageStatus.UNSUBSCRIBED,
    SuppressionReason.SMS_STOP: MessageStatus.UNSUBSCRIBED,
}

"""The statuses of a transactional message, as its sender stores them and the gateway lists and filters them.

Two families, one per channel, because their providers report different things: an email is moved by SES's events
(``TransactionalEmailStatus``), an SMS by Twilio's receipts (``TransactionalSmsStatus``). Each sender keeps its own
rank of them (a status never moves back: ``postman_sender_email.transactional``, ``postman_sender_sms.transactional``);
the gateway checks a ``status`` filter against the same words. The values are the strings stored in
``transactional_emails.status`` / ``transactional_sms.status`` and sent on the wire and in the API's JSON, so nothing
stored or sent changed. The members are declared in the order the API has always listed them.

A campaign message's statuses are another family: ``postman_shared.outcomes.MessageStatus``.
"""

from __future__ import annotations

from enum import StrEnum


class TransactionalEmailStatus(StrEnum):
    UNSENT = "UNSENT"  # recorded, not (yet) taken by the transport; with an error code: refused
    ACCEPTED = "ACCEPTED"  # the transport took it (the answer of the send)
    SENT = "SENT"  # SES sent it (SMTP and the outbox: at once, they report nothing later)
    BOUNCED = "BOUNCED"  # a bounce or a reject
    DELIVERED = "DELIVERED"
    OPENED = "OPENED"
    COMPLAINT = "COMPLAINT"  # the recipient marked it as spam


class TransactionalSmsStatus(StrEnum):
    UNSENT = "UNSENT"  # recorded, not (yet) taken by Twilio
    ACCEPTED = "ACCEPTED"  # Twilio took it (the answer of the send)
    SENT = "SENT"  # Twilio's receipt: sent to the carrier
    DELIVERED = "DELIVERED"
    ERROR = "ERROR"  # Twilio refused it, or its receipt says undelivered or failed


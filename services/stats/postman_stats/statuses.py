"""Every status the stats service keeps, and the moves between them it allows: in one place.

- A campaign message (``message_outcomes.status``): ``MessageStatus``, shared with the senders that report it
  (``postman_shared.outcomes``, with its rank and counter). The sender's event records it; a receipt then moves it
  only forward by rank (``receipt_moves``), never back: a late Delivery never undoes a bounce, a repeated event
  changes nothing. A sender's ERROR is special: any receipt but another ERROR replaces it (Twilio took the message
  without answering in time: the receipt proves the provider had it). A message never sent takes no receipt.
  ``RECEIPT_TRANSITIONS`` spells the rule out, status by status.
- A client webhook delivery attempt (``client_webhook_attempts.outcome``): ``WebhookAttemptOutcome``, shared with
  ``postman_shared.client_webhooks`` whose ``Attempt`` says which; final, it never moves (a retry is a new attempt).

The values are the strings stored and sent today.
"""

from __future__ import annotations

from collections.abc import Mapping

from postman_shared.client_webhooks import WebhookAttemptOutcome
from postman_shared.outcomes import NOT_SENT, RANK, RECEIPT_STATUSES, MessageStatus


def receipt_moves(status: str, receipt: str | None, new: str) -> bool:
    """Whether a receipt ``new`` moves a message whose status is ``status`` (``receipt``: the last receipt
    applied, None when the status is the sender's own)."""
    current, arriving = MessageStatus(status), MessageStatus(new)
    if current in NOT_SENT:
        return False
    if current == MessageStatus.ERROR and receipt is None:
        return arriving != MessageStatus.ERROR
    return RANK[arriving] > RANK[current]


# Where a receipt may move a message, by its current status once a receipt has been applied (or a sender's status
# other than ERROR), and from the sender's own ERROR before any receipt.
RECEIPT_TRANSITIONS: Mapping[MessageStatus, frozenset[MessageStatus]] = {
    status: frozenset(new for new in RECEIPT_STATUSES if receipt_moves(status, status, new)) for status in MessageStatus
}
FROM_SENDER_ERROR: frozenset[MessageStatus] = frozenset(
    new for new in RECEIPT_STATUSES if receipt_moves(MessageStatus.ERROR, None, new))


__all__ = ["FROM_SENDER_ERROR", "RECEIPT_TRANSITIONS", "MessageStatus", "WebhookAttemptOutcome", "receipt_moves"]

"""Stats' statuses and the moves it allows (``postman_stats.statuses``), pinned as the code has them: a receipt
moves a message only forward, and a message never sent takes none."""

from __future__ import annotations

import pytest

from postman_shared.outcomes import RECEIPT_STATUSES
from postman_stats.statuses import (
    FROM_SENDER_ERROR,
    RECEIPT_TRANSITIONS,
    MessageStatus,
    WebhookAttemptOutcome,
    receipt_moves,
)

M = MessageStatus


def test_receipt_table() -> None:
    assert RECEIPT_TRANSITIONS == {
        M.SENT: {M.DELIVERED, M.OPENED, M.SOFT_BOUNCED, M.BOUNCED, M.COMPLAINT, M.ERROR},
        M.DELIVERED: {M.OPENED, M.SOFT_BOUNCED, M.BOUNCED, M.COMPLAINT, M.ERROR},
        M.OPENED: {M.SOFT_BOUNCED, M.BOUNCED, M.COMPLAINT, M.ERROR},
        M.SOFT_BOUNCED: {M.BOUNCED, M.COMPLAINT, M.ERROR},
        M.BOUNCED: set(),
        M.COMPLAINT: set(),
        M.ERROR: set(),
        M.BLACKLISTED: set(),
        M.UNSUBSCRIBED: set(),
    }
    # The sender's own ERROR (no receipt yet): any receipt but another ERROR proves the provider had the message.
    assert FROM_SENDER_ERROR == {M.DELIVERED, M.OPENED, M.SOFT_BOUNCED, M.BOUNCED, M.COMPLAINT}


@pytest.mark.parametrize("new", sorted(RECEIPT_STATUSES))
def test_a_bounce_is_never_undone_and_a_suppressed_message_takes_no_receipt(new: str) -> None:
    assert not receipt_moves(M.BOUNCED, M.BOUNCED, new)
    assert not receipt_moves(M.BLACKLISTED, None, new)
    assert not receipt_moves(M.UNSUBSCRIBED, None, new)


def test_a_late_delivery_does_not_move_an_opened_message_back() -> None:
    assert not receipt_moves(M.OPENED, M.OPENED, M.DELIVERED)
    assert receipt_moves(M.DELIVERED, M.DELIVERED, M.OPENED)


def test_webhook_attempt_outcomes_are_the_strings_stored() -> None:
    assert [o.value for o in WebhookAttemptOutcome] == ["delivered", "failed", "refused", "expired"]

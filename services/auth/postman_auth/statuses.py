"""Every status the auth service keeps, and the moves between them it allows: in one place.

- A sender address (``sender_addresses.status``): ``SenderAddressStatus``, proven by ``VerificationMethod``.
  A row is created PENDING (locked, so two requests for one address wait for each other); it becomes VERIFIED when
  SES shows the user's agency owns it or when its confirmation link is followed; a new link for a PENDING address
  keeps it PENDING. A VERIFIED address stays so until it is removed (the row is deleted).

Users and API keys have no status column: a user is disabled by ``disabled_at``, a key is revoked by ``revoked_at``.
The values are the strings stored and sent today (``SenderAddress`` on the wire carries them as they are).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class SenderAddressStatus(StrEnum):
    PENDING = "PENDING"  # a confirmation link was (or is being) mailed to it
    VERIFIED = "VERIFIED"  # the user may send from it


class VerificationMethod(StrEnum):
    LINK = "link"  # the address's owner followed the link mailed to it
    SES = "ses"  # SES holds the address or its domain as an identity of the agency's


SENDER_ADDRESS_TRANSITIONS: Mapping[str, frozenset[SenderAddressStatus]] = {
    SenderAddressStatus.PENDING: frozenset({SenderAddressStatus.PENDING, SenderAddressStatus.VERIFIED}),
    SenderAddressStatus.VERIFIED: frozenset({SenderAddressStatus.VERIFIED}),
}


def sender_address_can_move(current: str, new: str) -> bool:
    """Whether a sender address in ``current`` may move to ``new``."""
    return new in SENDER_ADDRESS_TRANSITIONS.get(current, frozenset())


__all__ = ["SENDER_ADDRESS_TRANSITIONS", "SenderAddressStatus", "VerificationMethod", "sender_address_can_move"]

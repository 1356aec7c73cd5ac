"""A sender address's status as auth sends it (``SenderAddress.status`` on the wire), in the gateway's words.

Auth keeps the status and its moves (``postman_auth.statuses.SenderAddressStatus``); the gateway only reads the
string off the wire to choose what to show, and may not import auth, so it names the same values here. A unit test
(``tests/unit/gateway/test_sender_address_status.py``) keeps the two equal.
"""

from __future__ import annotations

from enum import StrEnum


class SenderAddressStatus(StrEnum):
    PENDING = "PENDING"  # its confirmation link was mailed to it
    VERIFIED = "VERIFIED"  # the user may send from it

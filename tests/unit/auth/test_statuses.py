"""Auth's statuses and the moves it allows (``postman_auth.statuses``), pinned as the code has them."""

from __future__ import annotations

from postman_auth.statuses import (
    SENDER_ADDRESS_TRANSITIONS,
    SenderAddressStatus,
    VerificationMethod,
    sender_address_can_move,
)

S = SenderAddressStatus


def test_values_are_the_strings_stored_and_sent() -> None:
    assert [s.value for s in SenderAddressStatus] == ["PENDING", "VERIFIED"]
    assert [m.value for m in VerificationMethod] == ["link", "ses"]


def test_sender_address_table() -> None:
    assert SENDER_ADDRESS_TRANSITIONS == {S.PENDING: {S.PENDING, S.VERIFIED}, S.VERIFIED: {S.VERIFIED}}


def test_a_verified_address_never_goes_back_to_pending() -> None:
    assert not sender_address_can_move(S.VERIFIED, S.PENDING)
    assert sender_address_can_move(S.PENDING, S.VERIFIED)
    assert not sender_address_can_move("UNKNOWN", S.VERIFIED)

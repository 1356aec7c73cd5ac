"""The gateway reads a sender address's status off the wire with its own ``SenderAddressStatus`` (it may not import
auth); it must name exactly the values auth keeps and sends."""

from __future__ import annotations

from postman_auth.statuses import SenderAddressStatus as AuthSenderAddressStatus
from postman_gateway.core.sender_address_status import SenderAddressStatus


def test_the_gateways_sender_address_statuses_are_auths() -> None:
    assert {(s.name, s.value) for s in SenderAddressStatus} == {(s.name, s.value) for s in AuthSenderAddressStatus}

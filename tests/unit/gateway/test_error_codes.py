"""The gateway's ``ErrorCode`` names every API error code there is: the services' (``CODES``, which cross gRPC) and
the gateway's own answer to a wrong HTTP method, with the values the contract spells."""

from __future__ import annotations

from postman_gateway.core.errors import ErrorCode
from postman_shared.grpc.errors import CODES


def test_error_codes_are_the_services_codes_and_method_not_allowed() -> None:
    assert {code.value for code in ErrorCode} == {*CODES, "method_not_allowed"}


def test_an_error_code_equals_its_string() -> None:
    assert ErrorCode.UNATHENTICATED == "unathenticated"
    assert "rate_limit" in (ErrorCode.RATE_LIMIT, ErrorCode.MESSAGE_LOCKED)

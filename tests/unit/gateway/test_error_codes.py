"""The gateway answers with the one shared ``ErrorCode``: every API error code there is, each with its HTTP status,
with the values the contract spells."""

from __future__ import annotations

from postman_gateway.core import errors
from postman_shared.grpc import errors as shared_errors
from postman_shared.grpc.errors import CODES, ErrorCode


def test_the_gateway_uses_the_shared_error_codes() -> None:
    assert errors.ErrorCode is shared_errors.ErrorCode


def test_a_wrong_method_has_its_code_and_status() -> None:
    assert CODES[ErrorCode("method_not_allowed")][1] == 405


def test_an_error_code_equals_its_string() -> None:
    assert ErrorCode.UNATHENTICATED == "unathenticated"
    assert "rate_limit" in (ErrorCode.RATE_LIMIT, ErrorCode.MESSAGE_LOCKED)

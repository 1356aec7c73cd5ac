"""``ErrorCode``: the API error codes (those services raise and the gateway's own), each with the gRPC and HTTP
status it has always had.

The table is pinned here as plain strings, so a renamed value or a changed status (which would change the wire or the
API's answers) fails, and a code that is no ``ErrorCode`` is still refused.
"""

from __future__ import annotations

import grpc
import pytest

from postman_shared.grpc.errors import CODES, ErrorCode, InvalidArgument, NotFound, ServiceError, from_rpc_error

# code -> (gRPC status, HTTP status), as the Postman v1 API answers them.
PINNED = {
    "api_validation": ("INVALID_ARGUMENT", 400),
    "invalid_recipient": ("INVALID_ARGUMENT", 400),
    "invalid_parameters": ("INVALID_ARGUMENT", 400),
    "invalid_template": ("INVALID_ARGUMENT", 400),
    "invalid_from_address": ("INVALID_ARGUMENT", 400),
    "malformed": ("INVALID_ARGUMENT", 400),
    "invalid_credentials": ("INVALID_ARGUMENT", 400),
    "invalid_credential_label": ("INVALID_ARGUMENT", 400),
    "unathenticated": ("UNAUTHENTICATED", 401),
    "unauthorized": ("PERMISSION_DENIED", 403),
    "already_sent": ("FAILED_PRECONDITION", 403),
    "not_found": ("NOT_FOUND", 404),
    "campaign_redacted": ("FAILED_PRECONDITION", 410),
    "attachment_limit": ("INVALID_ARGUMENT", 413),
    "rate_limit": ("RESOURCE_EXHAUSTED", 429),
    "wrong_password": ("PERMISSION_DENIED", 403),
    "message_locked": ("RESOURCE_EXHAUSTED", 429),
    "message_expired": ("FAILED_PRECONDITION", 410),
    "internal_server": ("INTERNAL", 500),
    "service_unavailable": ("UNAVAILABLE", 503),
    "method_not_allowed": ("UNIMPLEMENTED", 405),  # the gateway's own; no service raises it
}


def test_every_code_keeps_its_statuses() -> None:
    assert {code.value for code in ErrorCode} == set(PINNED)
    assert set(CODES) == set(ErrorCode)
    for value, (grpc_status, http_status) in PINNED.items():
        error = ServiceError(ErrorCode(value), "message")
        assert (error.grpc_status.name, error.http_status) == (grpc_status, http_status), value
        assert CODES[value] == (grpc.StatusCode[grpc_status], http_status)


@pytest.mark.parametrize("code", list(ErrorCode))
def test_a_code_given_as_its_string_is_the_same_code(code: ErrorCode) -> None:
    error = ServiceError(code.value, "message")
    assert error.code is code
    assert error.code == code.value  # a member equals its string: comparisons with plain strings still hold
    assert str(error.code) == f"{error.code}" == code.value


@pytest.mark.parametrize("code", ["no_such_code", "Not_Found", "NOT_FOUND", ""])
def test_an_unknown_code_is_refused(code: str) -> None:
    with pytest.raises(ValueError, match="unknown error code"):
        ServiceError(code, "message")


def test_shorthands_keep_their_codes() -> None:
    assert NotFound("Campaign").code is ErrorCode.NOT_FOUND
    assert NotFound("Campaign").message == "Campaign not found"
    assert InvalidArgument("bad").code is ErrorCode.INVALID_PARAMETERS
    assert InvalidArgument("bad", code="api_validation").code is ErrorCode.API_VALIDATION


class _Failed(grpc.RpcError):
    def __init__(self, status: grpc.StatusCode, details: str, trailing: tuple[tuple[str, str | bytes], ...]) -> None:
        self._status, self._details, self._trailing = status, details, trailing

    def code(self) -> grpc.StatusCode:
        return self._status

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return self._trailing


def test_a_failed_call_comes_back_as_its_code() -> None:
    sent = from_rpc_error(_Failed(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down",
                                  (("postman-error-code", b"message_locked"), ("postman-retry-after", "7"))))
    assert (sent.code, sent.message, sent.retry_after) == (ErrorCode.MESSAGE_LOCKED, "slow down", 7)
    unknown = from_rpc_error(_Failed(grpc.StatusCode.FAILED_PRECONDITION, "", (("postman-error-code", "bogus"),)))
    assert (unknown.code, unknown.message) == (ErrorCode.UNAUTHORIZED, "unauthorized")
    dropped = from_rpc_error(_Failed(grpc.StatusCode.UNAVAILABLE, "connection reset", ()))
    assert (dropped.code, dropped.message) == (ErrorCode.SERVICE_UNAVAILABLE,
                                               "A service is unavailable, please try again later")
    assert from_rpc_error(_Failed(grpc.StatusCode.UNKNOWN, "", ())).code is ErrorCode.INTERNAL_SERVER

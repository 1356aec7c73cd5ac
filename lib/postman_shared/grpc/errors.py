"""Errors that cross service boundaries.

A use case raises ``ServiceError(code, message)`` where ``code`` is an ``ErrorCode``, a Postman API error code
(``ErrorCode.NOT_FOUND``, ``ErrorCode.INVALID_TEMPLATE``...; its string, ``"not_found"``, is accepted too). ``CODES``
gives each code its gRPC and HTTP status. The server interceptor turns it into a gRPC status plus the code in
trailing metadata; ``from_rpc_error`` turns it back on the client side, so the gateway can answer with the API's error
shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import grpc

ERROR_CODE_KEY = "postman-error-code"
RETRY_AFTER_KEY = "postman-retry-after"  # seconds, for rate_limit errors


class ErrorCode(StrEnum):
    """The Postman API's error codes, which a service may raise (the ``code`` of the API's ``{code, message}``).

    A ``StrEnum`` whose values are the codes on the wire: a member equals its string, so a code read back from
    gRPC metadata (a ``str``) compares equal to its member, and JSON, metrics and logs show the plain string.
    """

    API_VALIDATION = "api_validation"
    INVALID_RECIPIENT = "invalid_recipient"
    INVALID_PARAMETERS = "invalid_parameters"
    INVALID_TEMPLATE = "invalid_template"
    INVALID_FROM_ADDRESS = "invalid_from_address"
    MALFORMED = "malformed"
    INVALID_CREDENTIALS = "invalid_credentials"
    INVALID_CREDENTIAL_LABEL = "invalid_credential_label"
    UNATHENTICATED = "unathenticated"  # sic: the contract's spelling
    UNAUTHORIZED = "unauthorized"
    ALREADY_SENT = "already_sent"
    NOT_FOUND = "not_found"
    CAMPAIGN_REDACTED = "campaign_redacted"
    ATTACHMENT_LIMIT = "attachment_limit"
    RATE_LIMIT = "rate_limit"
    # password-protected messages (POST /v1/protect/{id})
    WRONG_PASSWORD = "wrong_password"  # noqa: S105 - an error code, not a password
    MESSAGE_LOCKED = "message_locked"
    MESSAGE_EXPIRED = "message_expired"
    INTERNAL_SERVER = "internal_server"
    SERVICE_UNAVAILABLE = "service_unavailable"
    # The gateway's answer to a wrong HTTP method; no service raises it, but it is one of the API's codes, so it is
    # here: one enum names every code the API answers with.
    METHOD_NOT_ALLOWED = "method_not_allowed"


# API error code -> (gRPC status, HTTP status): a row for every ErrorCode (checked just below).
CODES: Mapping[ErrorCode, tuple[grpc.StatusCode, int]] = {
    ErrorCode.API_VALIDATION: (grpc.StatusCode.INVALID_ARGUMENT, 400),
    ErrorCode.INVALID_RECIPIENT: (grpc.StatusCode.INVALID_ARGUMENT, 400),
    ErrorCode.INVALID_PARAMETERS: (grpc.StatusCode.INVALID_ARGUMENT, 400),
    ErrorCode.INVALID_TEMPLATE: (grpc.StatusCode.INVALID_ARGUMENT, 400),
    ErrorCode.INVALID_FROM_ADDRESS: (grpc.StatusCode.INVALID_ARGUMENT, 400),
    ErrorCode.MALFORMED: (grpc.StatusCode.INVALID_ARGUMENT, 400),
    ErrorCode.INVALID_CREDENTIALS: (grpc.StatusCode.INVALID_ARGUMENT, 400),
    ErrorCode.INVALID_CREDENTIAL_LABEL: (grpc.StatusCode.INVALID_ARGUMENT, 400),
    ErrorCode.UNATHENTICATED: (grpc.StatusCode.UNAUTHENTICATED, 401),
    ErrorCode.UNAUTHORIZED: (grpc.StatusCode.PERMISSION_DENIED, 403),
    ErrorCode.ALREADY_SENT: (grpc.StatusCode.FAILED_PRECONDITION, 403),
    ErrorCode.NOT_FOUND: (grpc.StatusCode.NOT_FOUND, 404),
    ErrorCode.CAMPAIGN_REDACTED: (grpc.StatusCode.FAILED_PRECONDITION, 410),
    ErrorCode.ATTACHMENT_LIMIT: (grpc.StatusCode.INVALID_ARGUMENT, 413),
    ErrorCode.RATE_LIMIT: (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
    ErrorCode.WRONG_PASSWORD: (grpc.StatusCode.PERMISSION_DENIED, 403),
    ErrorCode.MESSAGE_LOCKED: (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
    ErrorCode.MESSAGE_EXPIRED: (grpc.StatusCode.FAILED_PRECONDITION, 410),
    ErrorCode.INTERNAL_SERVER: (grpc.StatusCode.INTERNAL, 500),
    ErrorCode.SERVICE_UNAVAILABLE: (grpc.StatusCode.UNAVAILABLE, 503),
    ErrorCode.METHOD_NOT_ALLOWED: (grpc.StatusCode.UNIMPLEMENTED, 405),
}
if set(CODES) != set(ErrorCode):  # a new code without its statuses would fail every ServiceError raised with it
    raise RuntimeError(f"CODES lacks a row for {sorted(set(ErrorCode) - set(CODES))}")

# The code of a failure that came without one (a server of no ServiceError, a dropped connection), by its status.
_DEFAULT_BY_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: ErrorCode.INVALID_PARAMETERS,
    grpc.StatusCode.UNAUTHENTICATED: ErrorCode.UNATHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED: ErrorCode.UNAUTHORIZED,
    grpc.StatusCode.NOT_FOUND: ErrorCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION: ErrorCode.UNAUTHORIZED,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ErrorCode.RATE_LIMIT,
    grpc.StatusCode.UNAVAILABLE: ErrorCode.SERVICE_UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: ErrorCode.SERVICE_UNAVAILABLE,
}


class ServiceError(Exception):
    """A failure a caller should see: an API error code and a message a person understands. ``code`` may be given as
    its string (``"not_found"``); a string that is no ``ErrorCode`` is refused, so no caller sees an unknown code."""

    def __init__(self, code: ErrorCode | str, message: str, retry_after: int | None = None) -> None:
        if code not in CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.retry_after = retry_after  # seconds until asking again may succeed (rate_limit)

    @property
    def grpc_status(self) -> grpc.StatusCode:
        return CODES[self.code][0]

    @property
    def http_status(self) -> int:
        return CODES[self.code][1]


class NotFound(ServiceError):
    def __init__(self, what: str = "Resource") -> None:
        super().__init__(ErrorCode.NOT_FOUND, f"{what} not found")


class InvalidArgument(ServiceError):
    def __init__(self, message: str, code: ErrorCode | str = ErrorCode.INVALID_PARAMETERS) -> None:
        super().__init__(code, message)


def from_rpc_error(error: grpc.RpcError) -> ServiceError:
    """Maps a failed call back to the ServiceError the server raised (or a generic one)."""
    status = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else ""
    sent = ""
    retry_after: int | None = None
    trailing = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in trailing or ():
        text = value if isinstance(value, str) else value.decode()
        if key == ERROR_CODE_KEY:
            sent = text
        elif key == RETRY_AFTER_KEY and text.isdigit():
            retry_after = int(text)
    code = ErrorCode(sent) if sent in CODES else _DEFAULT_BY_STATUS.get(status, ErrorCode.INTERNAL_SERVER)
    if code in (ErrorCode.INTERNAL_SERVER, ErrorCode.SERVICE_UNAVAILABLE) and not trailing:
        details = "A service is unavailable, please try again later" if code == ErrorCode.SERVICE_UNAVAILABLE else (
            "Internal server error")
    return ServiceError(code, details or code.value, retry_after)

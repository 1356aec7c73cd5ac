"""Errors that cross service boundaries.

A use case raises ``ServiceError(code, message)`` where ``code`` is a Postman API error code (``not_found``,
``invalid_template``...). The server interceptor turns it into a gRPC status plus the code in trailing metadata;
``from_rpc_error`` turns it back on the client side, so the gateway can answer with the API's error shape.
"""

from __future__ import annotations

import grpc

ERROR_CODE_KEY = "postman-error-code"
RETRY_AFTER_KEY = "postman-retry-after"  # seconds, for rate_limit errors

# API error code -> (gRPC status, HTTP status)
CODES: dict[str, tuple[grpc.StatusCode, int]] = {
    "api_validation": (grpc.StatusCode.INVALID_ARGUMENT, 400),
    "invalid_recipient": (grpc.StatusCode.INVALID_ARGUMENT, 400),
    "invalid_parameters": (grpc.StatusCode.INVALID_ARGUMENT, 400),
    "invalid_template": (grpc.StatusCode.INVALID_ARGUMENT, 400),
    "invalid_from_address": (grpc.StatusCode.INVALID_ARGUMENT, 400),
    "malformed": (grpc.StatusCode.INVALID_ARGUMENT, 400),
    "invalid_credentials": (grpc.StatusCode.INVALID_ARGUMENT, 400),
    "invalid_credential_label": (grpc.StatusCode.INVALID_ARGUMENT, 400),
    "unathenticated": (grpc.StatusCode.UNAUTHENTICATED, 401),
    "unauthorized": (grpc.StatusCode.PERMISSION_DENIED, 403),
    "already_sent": (grpc.StatusCode.FAILED_PRECONDITION, 403),
    "not_found": (grpc.StatusCode.NOT_FOUND, 404),
    "campaign_redacted": (grpc.StatusCode.FAILED_PRECONDITION, 410),
    "attachment_limit": (grpc.StatusCode.INVALID_ARGUMENT, 413),
    "rate_limit": (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
    # password-protected messages (POST /v1/protect/{id})
    "wrong_password": (grpc.StatusCode.PERMISSION_DENIED, 403),
    "message_locked": (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
    "message_expired": (grpc.StatusCode.FAILED_PRECONDITION, 410),
    "internal_server": (grpc.StatusCode.INTERNAL, 500),
    "service_unavailable": (grpc.StatusCode.UNAVAILABLE, 503),
}

_DEFAULT_BY_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: "invalid_parameters",
    grpc.StatusCode.UNAUTHENTICATED: "unathenticated",
    grpc.StatusCode.PERMISSION_DENIED: "unauthorized",
    grpc.StatusCode.NOT_FOUND: "not_found",
    grpc.StatusCode.FAILED_PRECONDITION: "unauthorized",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "rate_limit",
    grpc.StatusCode.UNAVAILABLE: "service_unavailable",
    grpc.StatusCode.DEADLINE_EXCEEDED: "service_unavailable",
}


class ServiceError(Exception):
    """A failure a caller should see: an API error code and a message a person understands."""

    def __init__(self, code: str, message: str, retry_after: int | None = None) -> None:
        if code not in CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
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
        super().__init__("not_found", f"{what} not found")


class InvalidArgument(ServiceError):
    def __init__(self, message: str, code: str = "invalid_parameters") -> None:
        super().__init__(code, message)


def from_rpc_error(error: grpc.RpcError) -> ServiceError:
    """Maps a failed call back to the ServiceError the server raised (or a generic one)."""
    status = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else ""
    code = ""
    retry_after: int | None = None
    trailing = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in trailing or ():
        text = value if isinstance(value, str) else value.decode()
        if key == ERROR_CODE_KEY:
            code = text
        elif key == RETRY_AFTER_KEY and text.isdigit():
            retry_after = int(text)
    if code not in CODES:
        code = _DEFAULT_BY_STATUS.get(status, "internal_server")
    if code in ("internal_server", "service_unavailable") and not trailing:
        details = "A service is unavailable, please try again later" if code == "service_unavailable" else (
            "Internal server error")
    return ServiceError(code, details or code, retry_after)

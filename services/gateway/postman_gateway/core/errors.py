"""Every error the gateway answers is JSON ``{code, message}`` with the status of the Postman v1 contract.

Use cases in other services raise ``ServiceError`` (it crosses gRPC with its API code); the gateway raises the same
type for its own request validation, so one handler turns both into a response. ``ErrorCode`` is the shared enum
(``postman_shared.grpc.errors``), imported here for the gateway's modules: one list of the API's codes. HTTP-level
failures (unknown route, wrong method, oversized body) and unexpected exceptions get the same shape: never an HTML
page or a stack trace.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from postman_gateway.core.request_context import current
from postman_shared.grpc.errors import ErrorCode, ServiceError
from postman_shared.logging import get_logger

# Status codes of werkzeug's HTTP exceptions -> the API's error code.
_HTTP_CODES = {
    400: ErrorCode.MALFORMED,
    401: ErrorCode.UNATHENTICATED,
    403: ErrorCode.UNAUTHORIZED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.ATTACHMENT_LIMIT,
    429: ErrorCode.RATE_LIMIT,
}


def error_response(code: ErrorCode | str, message: str, status: int) -> Response:
    response = jsonify(code=code, message=message)
    response.status_code = status
    return response


def api_validation(field: str, problem: str) -> ServiceError:
    """A 400 ``api_validation`` error that names the field, like ``"limit" must be a whole number``."""
    return ServiceError(ErrorCode.API_VALIDATION, f'"{field}" {problem}')


def _service_error(exc: ServiceError) -> Response:
    response = error_response(exc.code, exc.message, exc.http_status)
    if exc.code in (ErrorCode.RATE_LIMIT, ErrorCode.MESSAGE_LOCKED):
        # Whole seconds and at least 1: "0" would invite an immediate retry that is refused again.
        response.headers["Retry-After"] = str(max(1, exc.retry_after or 1))
    return response


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 404:
        message = f"There is no {request.method} {request.path}"
    elif status == 405:
        allowed = ", ".join(sorted(getattr(exc, "valid_methods", None) or ()))
        message = f"{request.method} is not allowed on {request.path}" + (f"; use {allowed}" if allowed else "")
    elif status == 413 and exc.description == RequestEntityTooLarge.description:  # werkzeug's own words
        message = (f"The request body is larger than the {request.max_content_length} bytes {request.method} "
                   f"{request.path} accepts")
    else:
        message = exc.description or exc.name
    code = _HTTP_CODES.get(status, ErrorCode.INTERNAL_SERVER if status >= 500 else ErrorCode.MALFORMED)
    response = error_response(code, message, status)
    if status == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods or ())
    return response


def _unexpected(exc: Exception) -> Response:
    request_id = current().request_id
    get_logger(component="gateway").exception("unhandled error", method=request.method, path=request.path)
    return error_response(ErrorCode.INTERNAL_SERVER, f"Internal server error (request id {request_id})", 500)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)

"""Reading request input: JSON bodies, required fields, query parameters. Failures name the field."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from flask import request

from postman_gateway.core.errors import ErrorCode, api_validation
from postman_shared.grpc.errors import ServiceError

MAX_JSON_BYTES = 1024 * 1024
MAX_QUERY_INT = 2**31 - 1
_MISSING = object()
_POSITIVE_ID = re.compile(r"[1-9][0-9]{0,17}")  # fits a BIGINT


def json_body(max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is ``{}``.

    Parsed here rather than by Flask so a syntax error reports its line and column, and so a client that sends
    JSON without a JSON content type is still understood. ``max_bytes``: a route whose fields may be larger (a
    transactional email's body) allows more.
    """
    if (request.content_length or 0) > max_bytes:
        raise ServiceError(ErrorCode.MALFORMED, f"The request body is larger than {max_bytes} bytes")
    raw = request.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ServiceError(ErrorCode.MALFORMED, f"The request body is larger than {max_bytes} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        raise ServiceError(ErrorCode.MALFORMED, "The request body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ServiceError(
            ErrorCode.MALFORMED,
            f"The request body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
        ) from None
    if not isinstance(body, dict):
        raise ServiceError(ErrorCode.API_VALIDATION, "The request body must be a JSON object")
    return body


def required_string(body: dict[str, Any], field: str, allow_empty: bool = False) -> str:
    value = body.get(field, _MISSING)
    if value is _MISSING or value is None:
        raise api_validation(field, "is required")
    if not isinstance(value, str):
        raise api_validation(field, "must be a string")
    if not allow_empty and not value.strip():
        raise api_validation(field, "is not allowed to be empty")
    return value


def optional_string(body: dict[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise api_validation(field, "must be a string")
    return value


def nullable_string(body: dict[str, Any], field: str) -> str | None:
    """A field whose key must be present but whose value may be null (the template's ``reply_to``)."""
    if field not in body:
        raise api_validation(field, "is required (it may be null)")
    value = body[field]
    if value is not None and not isinstance(value, str):
        raise api_validation(field, "must be a string or null")
    return value or None


def optional_bool(body: dict[str, Any], field: str, default: bool) -> bool:
    value = body.get(field)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise api_validation(field, "must be true or false")
    return value


def one_of(value: str, field: str, choices: Collection[str]) -> str:
    if value not in choices:
        raise api_validation(field, f"must be one of {', '.join(choices)}")
    return value


def query_int(field: str, default: int, minimum: int, maximum: int | None = None) -> int:
    """A whole-number query parameter; without ``maximum``, at most what the services' int32 fields carry (a
    larger offset would otherwise fail to fit the request message: a 500 instead of a 400)."""
    raw = request.args.get(field)
    if raw is None or raw == "":
        return default
    upper = MAX_QUERY_INT if maximum is None else maximum
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < minimum or value > upper:
        limits = f"from {minimum} to {upper}" if maximum is not None else f"of at least {minimum} (at most {upper})"
        raise api_validation(field, f"must be a whole number {limits}")
    return value


def query_choice(field: str, choices: Collection[str], default: str = "") -> str:
    raw = request.args.get(field)
    if raw is None or raw == "":
        return default
    return one_of(raw, field, choices)


def query_string(field: str) -> str:
    return request.args.get(field, "")


def required_query(field: str) -> str:
    raw = request.args.get(field)
    if raw is None or not raw.strip():
        raise api_validation(field, "is required")
    return raw


def positive_id(raw: str, field: str) -> int:
    """A path parameter that is a database id: a positive whole number."""
    if not _POSITIVE_ID.fullmatch(raw):
        raise api_validation(field, "must be a positive whole number")
    return int(raw)


def campaign_id(raw: str) -> int:
    """The ``campaignId`` path parameter."""
    return positive_id(raw, "campaignId")

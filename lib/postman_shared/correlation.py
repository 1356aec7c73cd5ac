"""Ids that tie one piece of work together across services: the request id, the campaign and the job.

The gateway gives every HTTP request a request id (the caller's ``X-Request-Id`` when well formed). It travels in
gRPC metadata (``x-request-id``, ``grpc.client``/``grpc.server``) and in AMQP message headers (``broker.publisher``/
``broker.consumer``), together with the campaign and job ids of a message that has them, and each side binds what it
received in the log context (``logging``) for as long as it works on it.
"""

from __future__ import annotations

import contextlib
import string
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import structlog

REQUEST_ID_METADATA = "x-request-id"  # gRPC metadata keys are lower case
# AMQP header -> log key. Headers are the application's own: RabbitMQ's are x-death, x-delivery-count, ...
AMQP_HEADERS = {"x-postman-request-id": "request_id", "x-postman-campaign-id": "campaign_id",
                "x-postman-job-id": "job_id"}
CORRELATION_KEYS = ("request_id", "campaign_id", "job_id")

MAX_REQUEST_ID_LENGTH = 128
_REQUEST_ID_CHARACTERS = frozenset(string.ascii_letters + string.digits + "._:-")


def well_formed_request_id(value: str) -> bool:
    """A caller's request id we can repeat in our logs and headers: 1-128 letters, digits and ``._:-``.

    The length is checked first and the characters by set membership: linear in a bounded string, no regex."""
    return 0 < len(value) <= MAX_REQUEST_ID_LENGTH and _REQUEST_ID_CHARACTERS.issuperset(value)


def new_request_id() -> str:
    return uuid.uuid4().hex


def current() -> dict[str, Any]:
    """The correlation ids bound in this context (those of ``CORRELATION_KEYS`` that are bound)."""
    bound = structlog.contextvars.get_contextvars()
    return {key: bound[key] for key in CORRELATION_KEYS if bound.get(key) not in (None, "")}


def amqp_headers() -> dict[str, Any]:
    """The AMQP headers that carry this context's correlation ids to a message's consumer."""
    ids = current()
    return {header: ids[key] for header, key in AMQP_HEADERS.items() if key in ids}


def from_amqp_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """The correlation ids a delivery carries, by log key; values that are not short strings or ints are ignored."""
    ids: dict[str, Any] = {}
    for header, key in AMQP_HEADERS.items():
        value = headers.get(header)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, int) or (isinstance(value, str) and well_formed_request_id(value)):
            ids[key] = value
    return ids


@contextlib.contextmanager
def bound(**ids: Any) -> Iterator[None]:
    """Binds the non-empty ``ids`` in the log context for the block, and restores what was bound before."""
    values = {key: value for key, value in ids.items() if value not in (None, "", 0)}
    if not values:
        yield
        return
    tokens = structlog.contextvars.bind_contextvars(**values)
    try:
        yield
    finally:
        # A generator closed from another context (a cancelled gRPC stream) cannot reset there; its context ends.
        with contextlib.suppress(ValueError):
            structlog.contextvars.reset_contextvars(**tokens)

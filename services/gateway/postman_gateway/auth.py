"""Bearer API key check, run before every ``/v1`` route except ``/v1/ping``.

The key is resolved by the auth service on every request: nothing about keys or users is cached here, so a
revoked key stops working at once.
"""

from __future__ import annotations

from flask import g, request

from postman.v1 import auth_pb2
from postman_gateway.backends import backends
from postman_gateway.observability import bind_to_request
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

AUTH_TIMEOUT_SECONDS = 10.0


def bearer_key() -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header (any header-name case, scheme exactly ``Bearer``)."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme != "Bearer" or not key or " " in key:
        return None
    return key


def require_api_key() -> None:
    """Flask ``before_request`` hook: puts the caller's user id on ``flask.g`` or answers 401."""
    key = bearer_key()
    if key is None:
        raise ServiceError("unathenticated", "Missing or malformed Authorization header: expected 'Bearer <API key>'")
    user = client.call(backends().auth.Authenticate, auth_pb2.AuthenticateRequest(api_key=key),
                       timeout=AUTH_TIMEOUT_SECONDS)
    g.user_id = user.user_id
    bind_to_request(user_id=user.user_id)

"""Who is calling, checked before every protected ``/v1`` route: an API key or a session cookie.

``Authorization: Bearer <key>`` is resolved with the auth service's ``Authenticate``; without that header, the
``postman_session`` cookie is resolved with ``ResolveSession``. Nothing about keys, sessions or users is cached
here, so a revoked key, a logged-out session or a disabled user stops working at once. A cookie the auth service
does not recognise (forged, tampered with, expired, revoked) is a 401 and the response clears it.

The client IP is ``request.remote_addr``: the peer of the connection, or, with ``TRUSTED_PROXIES=N``, the address
the last N proxies report in ``X-Forwarded-For`` (werkzeug's ProxyFix, installed in ``create_app``).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, request

from postman.v1 import auth_pb2
from postman_gateway.core import limiting
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import ErrorCode
from postman_gateway.core.observability import bind_to_request
from postman_gateway.core.request_context import current
from postman_gateway.core.sessions import MAX_TOKEN_LENGTH, SESSION_COOKIE, cookie_policy
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

AUTH_TIMEOUT_SECONDS = 10.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_KEY = "api_key"
SESSION = "session"


@dataclass(frozen=True)
class Caller:
    user_id: int
    email: str
    rate_limit: int  # the user's send limit per second (0: the default)
    authenticated_by: str  # API_KEY or SESSION
    session_token: str = ""  # only for SESSION: what logout revokes
    test: bool = False  # a test API key: what it sends is simulated by the senders, never given to a provider


@dataclass
class Officer:
    """The officer signed in to the pages, resolved from the session cookie (``web.pages.officer``)."""

    user_id: int
    email: str
    rate_limit: int
    session_token: str


def client_ip() -> str:
    return request.remote_addr or ""


def bearer_key() -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header (any header-name case, scheme exactly ``Bearer``)."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme != "Bearer" or not key or " " in key:
        return None
    return key


def _by_api_key() -> Caller:
    key = bearer_key()
    if key is None:
        raise ServiceError(ErrorCode.UNATHENTICATED, "Malformed Authorization header: expected 'Bearer <API key>'")
    user = client.call(backends().auth.Authenticate, auth_pb2.AuthenticateRequest(api_key=key),
                       timeout=AUTH_TIMEOUT_SECONDS)
    return Caller(user.user_id, user.email, user.rate_limit, API_KEY, test=user.test)


def refuse_cross_site() -> None:
    """403 for a state-changing request whose ``Origin`` is another site.

    A cookie can be sent by a page of another site only if the browser ignores SameSite; refusing cross-site
    state changes as well means one broken browser is not enough for a forged request."""
    if request.method not in SAFE_METHODS and cookie_policy().is_cross_site(request.headers.get("Origin")):
        raise ServiceError(ErrorCode.UNAUTHORIZED, "Cross-site request refused: this request's Origin is not this site")


def _by_session(token: str) -> Caller:
    refuse_cross_site()
    try:
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise ServiceError(ErrorCode.UNATHENTICATED, "not a session token")
        session = client.call(backends().auth.ResolveSession, auth_pb2.ResolveSessionRequest(session_token=token),
                              timeout=AUTH_TIMEOUT_SECONDS)
    except ServiceError as exc:
        if exc.code == ErrorCode.UNAUTHORIZED:  # the session is genuine, its user no longer allowed (DOMAIN_ALLOWLIST)
            current().clear_session_cookie = True
            raise
        if exc.code != ErrorCode.UNATHENTICATED:
            raise
        current().clear_session_cookie = True
        raise ServiceError(ErrorCode.UNATHENTICATED, "Your session has ended or is not valid: sign in again") from None
    return Caller(session.user.id, session.user.email, session.user.rate_limit, SESSION, token)


def authenticate() -> None:
    """Flask ``before_request`` hook of the protected ``/v1`` routes: puts the ``Caller`` on the request's context
    (``request_context.current().caller``) and counts the request against the caller's API limit, or answers
    401/429."""
    if "Authorization" in request.headers:
        caller = _by_api_key()
    elif SESSION_COOKIE in request.cookies:
        caller = _by_session(request.cookies[SESSION_COOKIE])
    else:
        raise ServiceError(ErrorCode.UNATHENTICATED,
                           "Sign in first, or send an API key in an 'Authorization: Bearer <API key>' header")
    current().caller = caller
    bind_to_request(user_id=caller.user_id)
    limiting.check_api_limit(caller.user_id)


def current_caller() -> Caller:
    """The authenticated caller (an ``AttributeError`` before authentication: a route outside ``v1`` has none)."""
    caller = current().caller
    if caller is None:
        raise AttributeError("caller: this request has no authenticated caller")
    return caller


def require_session(refusal: str = "API keys can only be managed from a signed-in session") -> None:
    """``before_request`` hook of the routes that manage credentials: an API key may not mint or revoke keys, so
    a leaked key cannot be turned into more keys or used to lock its owner out."""
    if current_caller().authenticated_by != SESSION:
        raise ServiceError(ErrorCode.UNAUTHORIZED, refusal)


def clear_rejected_cookie(response: Response) -> Response:
    """``after_request`` hook: a response that refused the session cookie also tells the browser to drop it."""
    if current().clear_session_cookie:
        cookie_policy().clear_cookie(response)
    return response

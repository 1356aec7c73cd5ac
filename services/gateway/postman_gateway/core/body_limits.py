"""How large a request body each route may send, decided from the request line and headers alone.

Waitress reads a whole body (to memory, then to a temporary file) before the app sees the request, so a limit the
app checks comes too late to save the pod's disk: the limit has to be known when the headers end. This module is
that decision, shared by waitress (``waitress_limits``: the body is refused before it is read) and by Flask (the
same limit on ``request.max_content_length``, for a chunked body and for the test client that bypasses waitress).

Every route gets ``DEFAULT_BODY_BYTES`` (JSON, forms, templates) unless it is listed here. Only the two routes that
take a recipient file get ``MAX_UPLOAD_BYTES``, and only for a request that proves, by a cheap local check, that it
was invited to send one: the local store's PUT carries its presigned URL's HMAC signature, and the officers' upload
page's post carries the upload ticket cookie that the page set for this session (an HMAC of the session cookie).
Anyone else's large body is refused at the headers, whatever the path. Nothing here calls another service: it runs
on waitress's event loop, which must never wait.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import parse_qs

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_cookie
from werkzeug.routing import Map

from postman_gateway.core.request_context import current
from postman_gateway.core.sessions import SESSION_COOKIE, cookie_policy
from postman_shared.keys import UPLOAD_TICKET, purpose_key
from postman_shared.logging import get_logger
from postman_shared.object_store import verify_upload_signature
from postman_shared.settings import Settings

DEFAULT_BODY_BYTES = 1024 * 1024  # a JSON request, a form, a template: far below
EXTENSION = "postman_gateway.core.body_limits"

# What a transactional email send may carry (``api/transactional_email.py`` checks each part; the route's body limit
# below is the larger of its two forms). They live here, not in the route's module, because the limits are decided
# before any route runs.
TRANSACTIONAL_ATTACHMENT_BYTES = 10 * 1024 * 1024  # all files together ("10 MB")
# The body may be 1 MiB of UTF-8; JSON escaping (quotes, non-ASCII as \\uXXXX) can make it several times longer.
TRANSACTIONAL_JSON_BYTES = 8 * 1024 * 1024
TRANSACTIONAL_FIELD_BYTES = 2 * 1024 * 1024  # one multipart text field (the body)
# Everything a multipart send may hold: the files, the fields, the parts' own headers.
TRANSACTIONAL_MULTIPART_BYTES = TRANSACTIONAL_ATTACHMENT_BYTES + 4 * TRANSACTIONAL_FIELD_BYTES

# Routes that may send more than the default to anyone (each still checks its own, often smaller, limits).
LARGER_BODIES: dict[str, int] = {
    "v1.transactional_email.send": max(TRANSACTIONAL_MULTIPART_BYTES, TRANSACTIONAL_JSON_BYTES),  # attachments
}
LOCAL_STORE_PUT = "uploads.put_object"  # PUT /uploads/<key>: a presigned PUT (a file, or a part of one)
RECIPIENTS_PAGE = "campaign.recipients"  # POST /campaigns/<id>/recipients: the upload page's file
UPLOAD_ENDPOINTS = (LOCAL_STORE_PUT, RECIPIENTS_PAGE)
UPLOAD_MARGIN_BYTES = 1024 * 1024

UPLOAD_TICKET_COOKIE = "postman_upload_ticket"
UPLOAD_TICKET_PATH = "/campaigns/"


def _session_digest(session_token: str) -> str:
    return hashlib.sha256(session_token.encode()).hexdigest()


def upload_ticket(signing_key: str, session_token: str, expires: int) -> str:
    """The cookie value that lets this session post a recipient file: ``<expires>.<HMAC>``. Bound to the session
    cookie, so it is worthless without it (and the session itself is still checked by the page once read)."""
    message = f"{expires}\n{_session_digest(session_token)}".encode()
    return f"{expires}.{hmac.new(purpose_key(signing_key, UPLOAD_TICKET), message, hashlib.sha256).hexdigest()}"


def valid_upload_ticket(signing_key: str, ticket: str, session_token: str, now: float | None = None) -> bool:
    expires, _, _mac = ticket.partition(".")
    if not session_token or not expires.isdigit() or len(expires) > 12:
        return False
    if (now or time.time()) > int(expires):
        return False
    return hmac.compare_digest(upload_ticket(signing_key, session_token, int(expires)), ticket)


class BodyLimits:
    """The body limit of a request, from its method, path, query and headers (waitress's parsed request)."""

    def __init__(self, url_map: Map, settings: Settings) -> None:
        self._url_map = url_map
        self._signing_key = settings.upload_signing_key
        # A file of MAX_UPLOAD_BYTES plus its form's other fields and multipart framing; the routes check the file's
        # own size exactly, so a slightly larger file gets their message (a form error on the page), not a bare 413.
        self.max_upload_bytes = settings.max_upload_bytes + UPLOAD_MARGIN_BYTES
        self.largest = max(DEFAULT_BODY_BYTES, self.max_upload_bytes, *LARGER_BODIES.values())

    def ticket_for(self, session_token: str, expires: int) -> str:
        return upload_ticket(self._signing_key, session_token, expires)

    def of_endpoint(self, endpoint: str | None) -> int:
        """The limit of a route, its caller's invitation taken as checked (the route checks it itself)."""
        if endpoint in UPLOAD_ENDPOINTS:
            return self.max_upload_bytes
        return LARGER_BODIES.get(endpoint or "", DEFAULT_BODY_BYTES)

    def admitted(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> int:
        """The limit of a request whose body has not been read yet. ``headers``: waitress's (``CONTENT_TYPE``,
        ``COOKIE``...). Routing and HMAC checks only: no I/O. Whatever the request holds, an answer: a malformed
        query or cookie (too many fields, non-ASCII text) gets the default, never an exception in waitress's loop."""
        try:
            return self._admitted(method, path, query, headers)
        except Exception:  # noqa: BLE001 - refused as uninvited; logged, the client gets the default limit
            get_logger(component="gateway").warning("body limit check failed; the default applies", path=path[:200])
            return DEFAULT_BODY_BYTES

    def _admitted(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> int:
        try:
            endpoint, arguments = self._url_map.bind("gateway").match(path, method)
        except HTTPException:  # no such route (or a redirect): whatever it is, it gets the default
            return DEFAULT_BODY_BYTES
        if endpoint == LOCAL_STORE_PUT:
            return self.max_upload_bytes if self._signed_put(str(arguments.get("key", "")), query) \
                else DEFAULT_BODY_BYTES
        if endpoint == RECIPIENTS_PAGE:
            return self.max_upload_bytes if self._ticketed(headers.get("COOKIE", "")) else DEFAULT_BODY_BYTES
        return self.of_endpoint(str(endpoint))

    def _signed_put(self, key: str, query: str) -> bool:
        try:
            fields = parse_qs(query, max_num_fields=8)
        except ValueError:  # more fields than a presigned URL has: not one
            return False
        expires, md5, signature = (fields.get(name, [""])[0] for name in ("expires", "md5", "signature"))
        return bool(signature) and verify_upload_signature(self._signing_key, key, expires, md5, signature) is None

    def _ticketed(self, cookie_header: str) -> bool:
        cookies = parse_cookie(cookie_header)
        return valid_upload_ticket(self._signing_key, cookies.get(UPLOAD_TICKET_COOKIE, ""),
                                   cookies.get(SESSION_COOKIE, ""))


def body_limits() -> BodyLimits:
    from flask import current_app

    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def _limit_this_request() -> None:
    """Before any view: the route's limit, so that a body read by Flask stops there (a route may lower it)."""
    request.max_content_length = body_limits().of_endpoint(request.endpoint)


def _hand_out_upload_ticket(response: Response) -> Response:
    """The upload page, shown to a signed-in officer, sets the ticket its file post needs to be admitted."""
    officer = current().officer
    if request.endpoint != RECIPIENTS_PAGE or officer is None or response.status_code >= 500:
        return response
    policy = cookie_policy()
    expires = int(time.time()) + policy.max_age_seconds
    response.set_cookie(UPLOAD_TICKET_COOKIE, body_limits().ticket_for(officer.session_token, expires),
                        max_age=policy.max_age_seconds, path=UPLOAD_TICKET_PATH, secure=policy.secure,
                        httponly=True, samesite="Strict")
    return response


def install(app: Flask, settings: Settings) -> BodyLimits:
    """Call after every blueprint is registered (the limits match the app's own routes)."""
    limits = BodyLimits(app.url_map, settings)
    app.extensions[EXTENSION] = limits
    app.config["MAX_CONTENT_LENGTH"] = DEFAULT_BODY_BYTES  # any body nobody sized
    app.before_request_funcs.setdefault(None, []).insert(0, _limit_this_request)
    app.after_request(_hand_out_upload_ticket)
    return limits

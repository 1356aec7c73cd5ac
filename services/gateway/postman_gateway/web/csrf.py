"""CSRF tokens for the pages' forms: every POST to a page (not the API, which takes a key or a JSON body and checks
the Origin) must carry ``csrf_token``, an HMAC of the session token, so a form on another site cannot act for a
signed-in officer. Before sign-in the token is bound to a random pre-session cookie instead.

Templates call ``csrf_field()`` inside every ``<form method="post">``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import Flask, abort, request
from markupsafe import Markup
from werkzeug.wrappers import Response

from postman_gateway.core.request_context import current
from postman_gateway.core.sessions import SESSION_COOKIE
from postman_shared.keys import CSRF_TOKEN, purpose_key
from postman_shared.settings import Settings

FIELD = "csrf_token"
PRE_SESSION_COOKIE = "postman_presession"
EXTENSION = "postman_gateway.web.csrf"


def _key() -> bytes:
    from flask import current_app
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def _binding() -> str:
    """What the token is bound to: the session token when signed in, else the pre-session cookie."""
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        return "session:" + session
    pre = request.cookies.get(PRE_SESSION_COOKIE) or current().new_pre_session
    if not pre:
        pre = current().new_pre_session = secrets.token_urlsafe(32)
    return "pre:" + pre


def token() -> str:
    return hmac.new(_key(), _binding().encode(), hashlib.sha256).hexdigest()


def csrf_field() -> Markup:
    # The token is hex, so formatting it into the tag cannot inject markup.
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, token())


def check() -> None:
    """400 unless the posted token matches the caller's binding (constant time)."""
    sent = request.form.get(FIELD, "")
    if not sent or not hmac.compare_digest(sent, token()):
        abort(400, description="This form has expired or did not come from this site. Go back, reload the page "
                               "and try again.")


def install(app: Flask, settings: Settings) -> None:
    app.extensions[EXTENSION] = purpose_key(settings.callback_signing_key, CSRF_TOKEN)
    app.jinja_env.globals["csrf_field"] = csrf_field

    @app.after_request
    def set_pre_session(response: Response) -> Response:
        new = current().new_pre_session
        if new:
            response.set_cookie(PRE_SESSION_COOKIE, new, httponly=True, samesite="Strict", path="/",
                                secure=settings.public_url.startswith("https://"))
        return response

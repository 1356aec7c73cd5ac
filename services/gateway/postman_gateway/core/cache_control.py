"""``Cache-Control: no-store`` on every response that is about one person, so no cache keeps it.

A new API key is shown once, in the body of ``POST /v1/api-key``; a signed-in page holds an officer's campaigns,
recipients and CSRF token; a sign-in response sets the session cookie. A shared proxy, or the browser's own disk
cache and back button on a shared computer, must keep none of them. Rather than remembering the header on each such
route, one ``after_request`` hook sets it on every response that:

- answers an authenticated caller (an API key or a session: the request context's ``caller``, set for the API by
  ``auth.authenticate`` and for pages by ``web.pages.officer``) — keys, credentials, campaigns, recipients, exports;
- sets a cookie (the session, the pre-session CSRF cookie, or their removal);
- belongs to signing in (``/sign-in...``, ``/v1/auth/...``), which carries one-time-password forms and addresses;
- is a recipient's own page: an unsubscribe link (their address) or a password-protected message (its ciphertext and
  parameters, ``/p/...`` and ``/v1/protect/...``), opened without an account, often on a shared computer.

It overrides any weaker ``Cache-Control`` a view set. Static assets (stylesheets, scripts, the API docs' CSS) are
public and the same for everyone: they are never touched and keep Flask's own caching (validators and
``no-cache``), as do public pages such as ``/v1/ping`` and ``/v1/openapi.json``.
"""

from __future__ import annotations

from flask import Flask, Response, request

from postman_gateway.core.request_context import current

NO_STORE = "no-store"
SIGN_IN_PREFIXES = ("/sign-in", "/v1/auth/")
RECIPIENT_PREFIXES = ("/unsubscribe/", "/v1/unsubscribe/", "/p/", "/v1/protect/")


def install(app: Flask) -> None:
    app.after_request(no_store_when_private)


def no_store_when_private(response: Response) -> Response:
    if _is_static_asset():
        return response
    if _is_private(response):
        response.headers["Cache-Control"] = NO_STORE
    return response


def _is_static_asset() -> bool:
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


def _is_private(response: Response) -> bool:
    return (current().caller is not None
            or "Set-Cookie" in response.headers
            or request.path.startswith(SIGN_IN_PREFIXES)
            or request.path.startswith(RECIPIENT_PREFIXES))

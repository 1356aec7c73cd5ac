"""The session cookie: its attributes, and the Origin check that refuses cross-site state changes.

The cookie's value is the opaque token the auth service returned at login; the gateway never interprets it and
the auth service stores only its SHA-256, so the cookie is checked, and can be revoked, server-side on every
request. The cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page makes the
browser send it) and ``Secure`` except when the gateway is served over plain http on localhost.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Response, current_app

from postman_shared.settings import Settings

SESSION_COOKIE = "postman_session"
EXTENSION = "postman_gateway.cookie_policy"
MAX_TOKEN_LENGTH = 256  # far above what auth issues; longer is not a token and is not sent to auth
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` as a browser writes it in ``Origin``: lower case, default port left out.
    An unparseable URL gives ``""``, which no Origin header equals."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    if not parts.scheme or not parts.hostname:
        return ""
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def secure_cookie(settings: Settings) -> bool:
    """``COOKIE_SECURE``: ``true``, ``false``, or ``auto`` (Secure unless PUBLIC_URL is plain http on localhost,
    where a browser would not send a Secure cookie back)."""
    if settings.cookie_secure != "auto":
        return settings.cookie_secure == "true"
    parts = urlsplit(settings.public_url)
    return not (parts.scheme == "http" and (parts.hostname or "") in _LOCAL_HOSTS)


@dataclass(frozen=True)
class CookiePolicy:
    secure: bool
    max_age_seconds: int
    public_origin: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "CookiePolicy":
        return cls(secure=secure_cookie(settings), max_age_seconds=settings.session_ttl_hours * 3600,
                   public_origin=origin_of(settings.public_url))

    def is_cross_site(self, origin: str | None) -> bool:
        """True when the request says it comes from a page of another site (an ``Origin`` that is not ours).
        No ``Origin`` at all is not cross-site: API clients and same-origin GETs do not send one."""
        return origin is not None and origin_of(origin) != self.public_origin

    def set_cookie(self, response: Response, token: str) -> None:
        response.set_cookie(SESSION_COOKIE, token, max_age=self.max_age_seconds, path="/", secure=self.secure,
                            httponly=True, samesite="Strict")

    def clear_cookie(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", secure=self.secure, httponly=True, samesite="Strict")


def cookie_policy() -> CookiePolicy:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]

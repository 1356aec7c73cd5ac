"""The page to go back to after signing in (``?next=``): a path on this site, never another site.

Checking that the value "starts with one slash" is not enough, because what the browser finally follows is not the
string we checked: Werkzeug percent-encodes the Location header (``/\\evil`` becomes ``/%5Cevil``) and drops
nothing, but browsers strip tabs and line breaks from a URL and read a backslash as a slash, so ``/<TAB>/evil``
(``next=/%09/evil``) is followed as ``//evil``, another host. A line break would also be a header injection
(Werkzeug refuses it with an exception: a 500). So a return address is refused outright when it, or its
percent-decoded form, holds any control character, any whitespace or a backslash; and it must parse
(``urllib.parse.urlsplit``) as a path with no scheme and no host, before and after Werkzeug's own encoding of it.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

from werkzeug.urls import iri_to_uri

DEFAULT_RETURN = "/campaigns"
MAX_RETURN_LENGTH = 2048  # far longer than any page of the site; longer is refused, not truncated


def safe_next(target: str | None, default: str = DEFAULT_RETURN) -> str:
    """``target`` when it is a path on this site, else ``default``."""
    if not target or len(target) > MAX_RETURN_LENGTH:
        return default
    decoded = unquote(target)
    if _has_forbidden_character(target) or _has_forbidden_character(decoded):
        return default
    if not (_is_local_path(target) and _is_local_path(decoded) and _is_local_path(iri_to_uri(target))):
        return default
    return target


def _is_local_path(value: str) -> bool:
    """One leading slash, then no scheme and no host once parsed (``//host``, ``/\\host``, ``https:`` all fail)."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def _has_forbidden_character(value: str) -> bool:
    """Whitespace, a backslash, or a control, format or unassigned character (Unicode category C*: tab, CR, LF, NUL,
    DEL, zero-width and bidi marks), all of which a browser may drop or reinterpret before following the URL."""
    return any(ch == "\\" or ch.isspace() or unicodedata.category(ch).startswith("C") for ch in value)

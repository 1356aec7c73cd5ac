"""Sanitising an email body's HTML when a template is saved: the email allowlist (``postman_shared.email_html``),
with tags kept intact.

nh3 (ammonia) happens to leave ``{{ key }}`` alone today, even in ``href``, but that depends on how it treats
relative URLs and text; so every tag is swapped for an inert placeholder of word characters before sanitising and
restored after, which survives anywhere text or an attribute value survives.
"""

from __future__ import annotations

import re
import secrets

from postman_shared.email_html import clean_email_html

_TAG = re.compile(r"\{\{\s*\w+\s*\}\}")


def sanitise_email_html(html: str) -> str:
    """The body reduced to the email allowlist: scripts, event handlers, styles and other schemes removed."""
    nonce = secrets.token_hex(6)
    tags: list[str] = []

    def to_placeholder(match: re.Match[str]) -> str:
        tags.append(match.group(0))
        return f"postmantag{nonce}n{len(tags) - 1}x"

    swapped = _TAG.sub(to_placeholder, html)
    cleaned = clean_email_html(swapped)
    placeholder = re.compile(rf"postmantag{nonce}n(\d+)x")
    return placeholder.sub(lambda m: tags[int(m.group(1))], cleaned)

"""Sanitising a template's HTML when it is saved, with its tags kept intact: an email body to the email allowlist
(``postman_shared.email_html``), a Telegram body to the HTML Telegram accepts (``telegram_html``).

nh3 (ammonia) happens to leave ``{{ key }}`` alone today, even in ``href``, but that depends on how it treats
relative URLs and text; so every tag is swapped for an inert placeholder of word characters before sanitising and
restored after, which survives anywhere text or an attribute value survives. The placeholder is made of letters and
digits, which a scheme may hold, so nh3 also judges every address as if its tags were filled: ``java{{ a }}script:``
reads as an unknown scheme and is removed, where ``{{ a }}`` alone (not a scheme character) would have let it through
as a relative address, to become ``javascript:`` once ``a`` is empty (issue 13).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from postman_shared.email_html import clean_email_html
from postman_shared.telegram_bot import telegram_html

_TAG = re.compile(r"\{\{\s*+\w++\s*+\}\}")  # possessive: no backtracking on a long run (issue 13)


def sanitise_email_html(html: str) -> str:
    """The body reduced to the email allowlist: scripts, event handlers, styles and other schemes removed."""
    return with_tags_kept(clean_email_html, html)


def sanitise_telegram_html(html: str) -> str:
    """The body reduced to the HTML Telegram accepts, other schemes removed."""
    return with_tags_kept(telegram_html, html)


def with_tags_kept(clean: Callable[[str], str], html: str) -> str:
    """``clean(html)`` with every ``{{ key }}`` tag where it stood, judged as a placeholder of word characters."""
    nonce = secrets.token_hex(6)
    tags: list[str] = []

    def to_placeholder(match: re.Match[str]) -> str:
        tags.append(match.group(0))
        return f"postmantag{nonce}n{len(tags) - 1}x"

    swapped = _TAG.sub(to_placeholder, html)
    cleaned = clean(swapped)
    placeholder = re.compile(rf"postmantag{nonce}n(\d+)x")
    return placeholder.sub(lambda m: tags[int(m.group(1))], cleaned)

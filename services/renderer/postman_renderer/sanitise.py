"""Sanitising an email body's HTML when a template is saved: an allowlist suited to email, with tags kept intact.

nh3 (ammonia) happens to leave ``{{ key }}`` alone today, even in ``href``, but that depends on how it treats
relative URLs and text; so every tag is swapped for an inert placeholder of word characters before sanitising and
restored after, which survives anywhere text or an attribute value survives.
"""

from __future__ import annotations

import re
import secrets

import nh3

_TAG = re.compile(r"\{\{\s*\w+\s*\}\}")

_TABLE_ATTRIBUTES = {"align", "valign", "width", "height", "border", "cellpadding", "cellspacing", "colspan",
                     "rowspan", "bgcolor"}

ALLOWED_TAGS = {
    "p", "br", "a", "b", "strong", "i", "em", "u", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "tr", "td", "th", "thead", "tbody", "img", "span", "div", "blockquote", "hr",
}
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},  # rel is set by the sanitiser itself; target is limited to known values below
    "img": {"src", "alt", "width", "height"},
    "table": _TABLE_ATTRIBUTES,
    "tr": {"align", "valign", "bgcolor"},
    "td": _TABLE_ATTRIBUTES,
    "th": _TABLE_ATTRIBUTES,
    "thead": {"align", "valign"},
    "tbody": {"align", "valign"},
}
TARGET_VALUES = {"a": {"target": {"_blank", "_self", "_parent", "_top"}}}
URL_SCHEMES = {"http", "https", "mailto", "tel"}
LINK_REL = "noopener noreferrer"


def sanitise_email_html(html: str) -> str:
    """The body reduced to the email allowlist: scripts, event handlers, styles and other schemes removed."""
    nonce = secrets.token_hex(6)
    tags: list[str] = []

    def to_placeholder(match: re.Match[str]) -> str:
        tags.append(match.group(0))
        return f"postmantag{nonce}n{len(tags) - 1}x"

    swapped = _TAG.sub(to_placeholder, html)
    cleaned = nh3.clean(
        swapped,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        tag_attribute_values=TARGET_VALUES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )
    placeholder = re.compile(rf"postmantag{nonce}n(\d+)x")
    return placeholder.sub(lambda m: tags[int(m.group(1))], cleaned)

"""The HTML an email body may hold: one allowlist for campaign templates (renderer) and transactional emails
(sender-email), so a body that is safe in one is safe in the other.

Scripts, event handlers, styles, forms and URL schemes other than http, https, mailto and tel are removed; links get
``rel="noopener noreferrer"``.
"""

from __future__ import annotations

import nh3

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


def clean_email_html(html: str) -> str:
    """``html`` reduced to the email allowlist."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, tag_attribute_values=TARGET_VALUES,
                     url_schemes=URL_SCHEMES, link_rel=LINK_REL, strip_comments=True)

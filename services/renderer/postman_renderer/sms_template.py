"""SMS templates: plain text in the same ``{{ key }}`` language as email, measured in SMS segments.

The body is plain text. ``<br>``, ``<br/>`` and ``<br />`` (any case) become line breaks, because authors coming from
the email editor write them; any other HTML tag is refused, naming the tag and where it is, rather than sent to a
phone as literal markup. A template longer than the allowed number of segments, measured on the text as written
(tags included), is refused with the length and the limit.

Text is cleaned the same way in the template and in each recipient's values: line breaks are kept, as one ``\\n``
each (``\\r\\n``, ``\\r`` and the Unicode line and paragraph separators all become ``\\n``: a phone shows them alike
and ``\\r\\n`` would cost two characters); a tab becomes a space; every other control character is removed, since
a phone shows nothing sensible for it. Values are not HTML-escaped: an SMS is not HTML, so "<" must reach the phone
as "<".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from postman_renderer.sms import SmsLength, measure
from postman_renderer.template import Template, TemplateError, parse

_LINE_BREAK_TAG = re.compile(r"<br\s*+/?>", re.IGNORECASE)
# Something a person (or a browser) would read as markup: an opening, closing or self-closing tag, or a comment.
# "a < b" and "<3" are not tags. Runs are possessive: the author's text is never backtracked over (issue 13).
_HTML_TAG = re.compile(r"<!--.*?(?:-->|\Z)|</?[A-Za-z][A-Za-z0-9-]*+(?:\s[^<>]*+)?/?>", re.DOTALL)
_QUOTE_LIMIT = 40

_NEWLINES = re.compile(r"\r\n?|[\x85\u2028\u2029]")
# Every control character (Unicode category Cc, all below U+0100) but the line feed is removed; a tab becomes a space.
_CLEAN = str.maketrans({
    **dict.fromkeys(code for code in range(0x100) if unicodedata.category(chr(code)) == "Cc" and code != ord("\n")),
    ord("\t"): " ",
})


def plain_sms_text(text: str) -> str:
    """``text`` with line breaks made ``\\n`` and other control characters removed (see the module docstring)."""
    if text.isprintable():  # the common case: nothing to clean, no copy
        return text
    return _NEWLINES.sub("\n", text).translate(_CLEAN)


@dataclass(frozen=True)
class ValidatedSmsTemplate:
    body: str  # plain text: line-break tags made "\n", control characters and surrounding white space removed
    params: list[str]  # lower-cased keys, first-seen order
    length: SmsLength  # of the body as written, tags included


def validate_sms_template(body: str, max_segments: int) -> ValidatedSmsTemplate:
    """Checks an SMS template; raises TemplateError saying what is wrong and where."""
    # Surrounding white space is invisible on a phone but would still be paid for.
    text = plain_sms_text(_LINE_BREAK_TAG.sub("\n", body)).strip()
    if not text:
        raise TemplateError("The message body is empty")
    _refuse_html(text)
    template = _parse_body(text)
    length = measure(text)
    if length.segments > max_segments:
        raise TemplateError(
            f"The message is {length.segments} segments long ({length.encoding}); "
            f"at most {max_segments} segments are allowed"
        )
    return ValidatedSmsTemplate(body=text, params=template.keys, length=length)


@dataclass(frozen=True)
class SmsMessageTemplate:
    """A saved SMS template parsed once, ready to render many recipients."""

    body: Template

    @classmethod
    def parse(cls, body: str) -> "SmsMessageTemplate":
        text = plain_sms_text(_LINE_BREAK_TAG.sub("\n", body))
        _refuse_html(text)
        return cls(body=_parse_body(text))

    @property
    def keys(self) -> list[str]:
        return self.body.keys

    def render(self, values: Mapping[str, object]) -> str:
        """The message for one recipient's values (lower-case keys), values cleaned but not escaped."""
        return self.body.render(values, plain_sms_text)


def _refuse_html(text: str) -> None:
    tag = _HTML_TAG.search(text)
    if tag is None:
        return
    quoted = tag.group(0) if len(tag.group(0)) <= _QUOTE_LIMIT else tag.group(0)[:_QUOTE_LIMIT] + "…"
    line = text.count("\n", 0, tag.start()) + 1
    column = tag.start() - (text.rfind("\n", 0, tag.start()) + 1) + 1
    raise TemplateError(
        f'Body: HTML tag "{quoted}" at line {line}, column {column} is not allowed: SMS messages are plain text '
        "(use <br> or a new line for a line break)"
    )


def _parse_body(text: str) -> Template:
    try:
        return parse(text)
    except TemplateError as exc:
        raise TemplateError(f"Body: {exc.message}") from None

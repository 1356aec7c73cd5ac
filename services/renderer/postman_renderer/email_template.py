"""Email templates: a plain-text subject and an HTML body, validated when saved and rendered per recipient.

Rendering escapes what a recipient's values may contain, because values come from an uploaded file, not from the
template's author: in the body every value is HTML-escaped (braces too, so no later stage can read a value as a
tag); a value at the start of an ``href``/``src`` is also dropped when it carries a scheme other than http, https,
mailto or tel (``javascript:`` links). In the subject, values stay plain text but line breaks become spaces, so a
value cannot add a header.

Link keys (Postman's behaviour): the value of a key whose name ends in ``_url`` or ``_link``, where the template uses
it in text (not inside a tag), becomes a link to itself, ``<a href="value">value</a>`` (escaped), when it is an http
or https address; any other value stays plain escaped text, and so does one already inside a link's text (a link in a
link is not HTML). ``protectedlink`` is not a link key: its template puts it in an ``href`` itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from postman_renderer.sanitise import sanitise_email_html
from postman_renderer.template import Escape, Template, TemplateError, parse
from postman_shared.email_html import URL_SCHEMES

# html.escape(value, quote=True) plus braces, in one pass.
_HTML_ESCAPES = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;", "{": "&#123;", "}": "&#125;",
})
# Every character str.splitlines() breaks on, so no header parser can see a new line.
_LINE_BREAKS = str.maketrans(dict.fromkeys("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029", " "))
_URL_ATTRIBUTE_START = re.compile(r"""\b(?:href|src)\s*=\s*["']?\s*$""", re.IGNORECASE)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20]")
_HTTP_URL = re.compile(r"https?://[^\s]", re.IGNORECASE)
_TAG_START = re.compile(r"<(?:(/?)([A-Za-z][^\s/>]*)|!)")
_TAG_STOP = re.compile(r"[\"'>]")
LINK_KEY_SUFFIXES = ("_url", "_link")


def escape_html_value(value: str) -> str:
    return value.translate(_HTML_ESCAPES)


def escape_url_value(value: str) -> str:
    """A value that starts a link or image address: escaped, and empty when its scheme is not allowed."""
    scheme = _SCHEME.match(_IGNORED_IN_URLS.sub("", value))
    if scheme and scheme.group(1).lower() not in URL_SCHEMES:
        return ""
    return escape_html_value(value)


def plain_subject_value(value: str) -> str:
    return value.translate(_LINE_BREAKS)


def link_value(value: str) -> str:
    """A link key's value in text: a link to itself when it is an http(s) address, else escaped text."""
    url = value.strip()
    if _HTTP_URL.match(url):
        escaped = escape_html_value(url)
        return f'<a href="{escaped}">{escaped}</a>'
    return escape_html_value(value)


def is_link_key(key: str) -> bool:
    return key.endswith(LINK_KEY_SUFFIXES)


class SlotPosition(Enum):
    """Where a tag stands in the HTML around it, which decides how its value is escaped."""

    TEXT = "text"
    LINK_TEXT = "link text"  # in the text of an <a> element
    URL = "url"  # at the start of an href or src value
    ATTRIBUTE = "attribute"  # anywhere else inside a tag


def slot_positions(literals: Sequence[str]) -> list[SlotPosition]:
    """The position of each tag of a parsed HTML template (``literals`` around the tags), by one scan of the
    template's own text: values are escaped, so they never open or close a tag or a quote."""
    positions: list[SlotPosition] = []
    in_tag = closing = False
    quote = name = ""
    links = 0
    for literal in literals[:-1]:
        i = 0
        while i < len(literal):
            if not in_tag:
                start = literal.find("<", i)
                if start < 0:
                    break
                opened = _TAG_START.match(literal, start)
                if opened is None:
                    i = start + 1
                    continue
                in_tag, quote, i = True, "", opened.end()
                closing, name = opened.group(1) == "/", (opened.group(2) or "!").lower()
            elif quote:
                end = literal.find(quote, i)
                if end < 0:
                    break
                quote, i = "", end + 1
            else:
                found = _TAG_STOP.search(literal, i)
                if found is None:
                    break
                i = found.end()
                if found.group() == ">":
                    in_tag = False
                    if name == "a":
                        links = max(0, links - 1) if closing else links + 1
                else:
                    quote = found.group()
        if in_tag:
            positions.append(SlotPosition.URL if _URL_ATTRIBUTE_START.search(literal) else SlotPosition.ATTRIBUTE)
        else:
            positions.append(SlotPosition.LINK_TEXT if links else SlotPosition.TEXT)
    return positions


def body_escapes(body: Template) -> tuple[Escape, ...]:
    """How each tag's value is escaped where it stands (see the module docstring)."""
    escapes: list[Escape] = []
    for key, position in zip(body.slots, slot_positions(body.literals), strict=True):
        if position is SlotPosition.URL:
            escapes.append(escape_url_value)
        elif position is SlotPosition.TEXT and is_link_key(key):
            escapes.append(link_value)
        else:
            escapes.append(escape_html_value)
    return tuple(escapes)


@dataclass(frozen=True)
class ValidatedTemplate:
    subject: str
    body: str  # sanitised HTML
    params: list[str]  # keys of subject then body, lower-cased, first-seen order


def validate_email_template(subject: str, body: str) -> ValidatedTemplate:
    """Checks both parts and sanitises the body; raises TemplateError saying which part ("Subject: ", "Body: ")."""
    if not body.strip():
        raise TemplateError("The message body is empty")
    subject = plain_subject_value(subject).strip()
    parsed_subject = _parse_part("Subject", subject)
    _parse_part("Body", body)  # errors point at what the author wrote, before sanitising moves anything
    clean_body = sanitise_email_html(body)
    if not clean_body.strip():
        raise TemplateError("The message body is empty")
    parsed_body = _parse_part("Body", clean_body)
    params = list(dict.fromkeys([*parsed_subject.keys, *parsed_body.keys]))
    return ValidatedTemplate(subject=subject, body=clean_body, params=params)


@dataclass(frozen=True)
class EmailMessageTemplate:
    """A saved email template parsed once, ready to render many recipients."""

    subject: Template
    body: Template
    body_escapes: tuple[Escape, ...]

    @classmethod
    def parse(cls, subject: str, body: str) -> "EmailMessageTemplate":
        parsed_body = _parse_part("Body", body)
        return cls(subject=_parse_part("Subject", subject), body=parsed_body, body_escapes=body_escapes(parsed_body))

    @property
    def keys(self) -> list[str]:
        return list(dict.fromkeys([*self.subject.keys, *self.body.keys]))

    def render(self, values: Mapping[str, object]) -> tuple[str, str]:
        """(subject, body) for one recipient's values (lower-case keys)."""
        return self.subject.render(values, plain_subject_value), self.body.render_each(values, self.body_escapes)


def _parse_part(part: str, text: str) -> Template:
    try:
        return parse(text)
    except TemplateError as exc:
        raise TemplateError(f"{part}: {exc.message}") from None

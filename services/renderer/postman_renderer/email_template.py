"""Email templates: a plain-text subject and an HTML body, validated when saved and rendered per recipient.

Rendering escapes what a recipient's values may contain, because values come from an uploaded file, not from the
template's author: in the body every value is HTML-escaped (braces too, so no later stage can read a value as a
tag); a value at the start of an ``href``/``src`` (only white space or other tags before it) is also dropped when it
carries a scheme other than http, https, mailto or tel (``javascript:`` links), and so are all the values that
together would start an address with such a scheme (``{{a}}{{b}}``, "java" and "script:...": ``html_slots``). In
the subject, values stay plain text but line breaks become spaces, so a
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

from postman_renderer.html_slots import SlotMap, SlotPosition, scan, url_scheme_allowed, without
from postman_renderer.sanitise import sanitise_email_html
from postman_renderer.template import Escape, Template, TemplateError, parse

# html.escape(value, quote=True) plus braces, in one pass.
_HTML_ESCAPES = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;", "{": "&#123;", "}": "&#125;",
})
# Every character str.splitlines() breaks on, so no header parser can see a new line.
_LINE_BREAKS = str.maketrans(dict.fromkeys("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029", " "))
_HTTP_URL = re.compile(r"https?://[^\s]", re.IGNORECASE)
LINK_KEY_SUFFIXES = ("_url", "_link")


def escape_html_value(value: str) -> str:
    return value.translate(_HTML_ESCAPES)


def escape_url_value(value: str) -> str:
    """A value that starts a link or image address: escaped, and empty when its scheme is not allowed."""
    return escape_html_value(value) if url_scheme_allowed(value) else ""


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


def body_escapes(body: Template, slot_map: SlotMap | None = None) -> tuple[Escape, ...]:
    """How each tag's value is escaped where it stands (see the module docstring)."""
    escapes: list[Escape] = []
    positions = (slot_map or scan(body.literals)).positions
    for key, position in zip(body.slots, positions, strict=True):
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
    slot_map: SlotMap  # where each tag of the body stands, and the link addresses values start

    @classmethod
    def parse(cls, subject: str, body: str) -> "EmailMessageTemplate":
        parsed_body = _parse_part("Body", body)
        slot_map = scan(parsed_body.literals)
        return cls(subject=_parse_part("Subject", subject), body=parsed_body,
                   body_escapes=body_escapes(parsed_body, slot_map), slot_map=slot_map)

    @property
    def keys(self) -> list[str]:
        return list(dict.fromkeys([*self.subject.keys, *self.body.keys]))

    def render(self, values: Mapping[str, object]) -> tuple[str, str]:
        """(subject, body) for one recipient's values (lower-case keys)."""
        return self.subject.render(values, plain_subject_value), self.body.render_each(values, self.escapes(values))

    def left_out(self, values: Mapping[str, object]) -> frozenset[int]:
        """The body's tags that render as nothing for these values: together they would start a link with a
        scheme that is not allowed (``html_slots.UrlStart``)."""
        return self.slot_map.left_out(self.body.slots, values, self.body_escapes)

    def escapes(self, values: Mapping[str, object]) -> Sequence[Escape]:
        """The body's escapes for one recipient's values."""
        return without(self.body_escapes, self.left_out(values))


def _parse_part(part: str, text: str) -> Template:
    try:
        return parse(text)
    except TemplateError as exc:
        raise TemplateError(f"{part}: {exc.message}") from None

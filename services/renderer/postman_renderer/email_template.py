"""Email templates: a plain-text subject and an HTML body, validated when saved and rendered per recipient.

Rendering escapes what a recipient's values may contain, because values come from an uploaded file, not from the
template's author: in the body every value is HTML-escaped (braces too, so no later stage can read a value as a
tag); a value at the start of an ``href``/``src`` is also dropped when it carries a scheme other than http, https,
mailto or tel (``javascript:`` links). In the subject, values stay plain text but line breaks become spaces, so a
value cannot add a header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

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
        escapes = tuple(
            escape_url_value if _URL_ATTRIBUTE_START.search(literal) else escape_html_value
            for literal in parsed_body.literals[:-1]
        )
        return cls(subject=_parse_part("Subject", subject), body=parsed_body, body_escapes=escapes)

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

"""Telegram templates: HTML reduced to the tags the Bot API accepts (``parse_mode=HTML``), in the same ``{{ key }}``
language as email, rendered per recipient with every value HTML-escaped (a value cannot add a tag, and a link's
address loses a scheme other than http, https, mailto or tel, as in email).

Telegram refuses a message over 4,096 characters; a template longer than that (as written, tags excluded is not
knowable before rendering, so tags included) is refused when saved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from postman_renderer.email_template import escape_html_value, escape_url_value
from postman_renderer.template import Escape, Template, TemplateError, parse
from postman_shared.telegram_bot import telegram_html

MAX_MESSAGE_LENGTH = 4096
_URL_ATTRIBUTE_START = re.compile(r"""\bhref\s*=\s*["']?\s*$""", re.IGNORECASE)


@dataclass(frozen=True)
class ValidatedTelegramTemplate:
    body: str  # Telegram HTML
    params: list[str]  # lower-cased keys, first-seen order


def validate_telegram_template(body: str) -> ValidatedTelegramTemplate:
    """Checks a Telegram template and reduces its HTML; raises TemplateError saying what is wrong."""
    if not body.strip():
        raise TemplateError("The message body is empty")
    parse(body)  # errors point at what the author wrote, before cleaning moves anything
    clean = telegram_html(body).strip()
    if not clean:
        raise TemplateError("The message body is empty")
    if len(clean) > MAX_MESSAGE_LENGTH:
        raise TemplateError(f"The message is {len(clean):,} characters long; Telegram accepts at most "
                            f"{MAX_MESSAGE_LENGTH:,}")
    return ValidatedTelegramTemplate(body=clean, params=parse(clean).keys)


@dataclass(frozen=True)
class TelegramMessageTemplate:
    """A saved Telegram template parsed once, ready to render many recipients."""

    body: Template
    escapes: tuple[Escape, ...]

    @classmethod
    def parse(cls, body: str) -> "TelegramMessageTemplate":
        parsed = parse(body)
        escapes = tuple(escape_url_value if _URL_ATTRIBUTE_START.search(literal) else escape_html_value
                        for literal in parsed.literals[:-1])
        return cls(body=parsed, escapes=escapes)

    def render(self, values: Mapping[str, object]) -> str:
        return self.body.render_each(values, self.escapes)

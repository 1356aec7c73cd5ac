"""Telegram templates: HTML reduced to the tags the Bot API accepts (``parse_mode=HTML``), in the same ``{{ key }}``
language as email, rendered per recipient with every value HTML-escaped (a value cannot add a tag, and a link's
address loses a scheme other than http, https, mailto or tel, as in email, including when adjacent values would
make one together: ``html_slots``).

Telegram refuses a message over 4,096 characters; a template longer than that (as written, tags excluded is not
knowable before rendering, so tags included) is refused when saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from postman_renderer.email_template import escape_html_value, escape_url_value
from postman_renderer.html_slots import SlotMap, SlotPosition, scan, without
from postman_renderer.sanitise import sanitise_telegram_html
from postman_renderer.template import Escape, Template, TemplateError, parse

MAX_MESSAGE_LENGTH = 4096


@dataclass(frozen=True)
class ValidatedTelegramTemplate:
    body: str  # Telegram HTML
    params: list[str]  # lower-cased keys, first-seen order


def validate_telegram_template(body: str) -> ValidatedTelegramTemplate:
    """Checks a Telegram template and reduces its HTML; raises TemplateError saying what is wrong."""
    if not body.strip():
        raise TemplateError("The message body is empty")
    parse(body)  # errors point at what the author wrote, before cleaning moves anything
    clean = sanitise_telegram_html(body).strip()
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
    slot_map: SlotMap  # where each tag stands (html_slots), and the link addresses values start

    @classmethod
    def parse(cls, body: str) -> "TelegramMessageTemplate":
        parsed = parse(body)
        slot_map = scan(parsed.literals)
        escapes = tuple(escape_url_value if position is SlotPosition.URL else escape_html_value
                        for position in slot_map.positions)
        return cls(body=parsed, escapes=escapes, slot_map=slot_map)

    def render(self, values: Mapping[str, object]) -> str:
        """The message for one recipient's values; values that together would start a link with a scheme that is
        not allowed are left out."""
        left_out = self.slot_map.left_out(self.body.slots, values, self.escapes)
        return self.body.render_each(values, without(self.escapes, left_out))

"""Postman's template language: ``{{ key }}`` tags in otherwise literal text.

A template is parsed once into literal chunks and the keys between them; rendering is then a join, with no regular
expression per message. Keys are word characters (Python's ``\\w``, so Unicode letters count), matched
case-insensitively: they are lower-cased when parsed, and values are looked up by lower-case key. A key missing from
the values renders as the empty string. Substitution is single pass: a value that contains ``{{ x }}`` is never
interpreted as a tag.

Malformed tags raise ``TemplateError`` with a message that quotes the tag and gives its line and column.
A lone ``}}`` outside a tag is plain text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

OPEN = "{{"
CLOSE = "}}"
_KEY = re.compile(r"\w+")
_QUOTE_LIMIT = 40

Escape = Callable[[str], str]


class TemplateError(ValueError):
    """A template cannot be parsed; the message quotes the bad tag and says where it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Template:
    """A parsed template: ``literals[0] slots[0] literals[1] ... slots[n-1] literals[n]``."""

    literals: tuple[str, ...]
    slots: tuple[str, ...]  # the lower-cased key of each tag, in order of appearance (repeats included)

    @property
    def keys(self) -> list[str]:
        """Every key the template uses, lower-cased, in first-seen order."""
        return list(dict.fromkeys(self.slots))

    def render(self, values: Mapping[str, object], escape: Escape | None = None) -> str:
        """The text with each tag replaced by its value (lower-case keys), passed through ``escape`` if given."""
        if escape is None:
            return self.render_each(values, ())
        return self.render_each(values, (escape,) * len(self.slots))

    def render_each(self, values: Mapping[str, object], escapes: Sequence[Escape]) -> str:
        """Like ``render`` with one escape function per tag (``escapes`` empty: no escaping at all)."""
        literals = self.literals
        out = [literals[0]]
        get = values.get
        for index, key in enumerate(self.slots):
            value = get(key)
            text = "" if value is None else value if isinstance(value, str) else str(value)
            if escapes:
                text = escapes[index](text)
            out.append(text)
            out.append(literals[index + 1])
        return "".join(out)


def parse(text: str) -> Template:
    """Parses ``text`` once; raises TemplateError pointing at the first malformed tag."""
    literals: list[str] = []
    slots: list[str] = []
    position = 0
    while True:
        start = text.find(OPEN, position)
        if start < 0:
            literals.append(text[position:])
            return Template(tuple(literals), tuple(slots))
        end = _tag_end(text, start)
        key = text[start + len(OPEN):end - len(CLOSE)].strip()
        if not key:
            raise TemplateError(f'Empty tag "{text[start:end]}" at {_where(text, start)}: put a key inside, '
                                "like {{ name }}")
        if not _KEY.fullmatch(key):
            raise TemplateError(f'Invalid key "{text[start:end]}" at {_where(text, start)}: keys may contain only '
                                "letters, digits and underscores")
        literals.append(text[position:start])
        slots.append(key.lower())
        position = end


def _tag_end(text: str, start: int) -> int:
    """The index just past the ``}}`` closing the tag opened at ``start``; raises for unclosed, nested or tripled
    braces."""
    inner_start = start + len(OPEN)
    if text.startswith("{", inner_start):
        close = text.find(CLOSE, inner_start)
        end = close + len(CLOSE) if close >= 0 else len(text)
        while end < len(text) and text[end] == "}":
            end += 1
        raise TemplateError(f'Invalid tag "{_excerpt(text, start, end)}" at {_where(text, start)}: use exactly two '
                            "braces on each side, like {{ name }}")
    close = text.find(CLOSE, inner_start)
    reopen = text.find(OPEN, inner_start)
    if 0 <= reopen and (close < 0 or reopen < close):
        if close >= 0:
            outer_close = text.find(CLOSE, close + len(CLOSE))
            next_open = text.find(OPEN, close + len(CLOSE))
            if outer_close >= 0 and (next_open < 0 or outer_close < next_open):
                raise TemplateError(
                    f'Nested tag "{_excerpt(text, start, outer_close + len(CLOSE))}" at {_where(text, start)}: '
                    "a tag cannot contain another tag"
                )
        raise _unclosed(text, start, reopen)
    if close < 0:
        raise _unclosed(text, start, len(text))
    return close + len(CLOSE)


def _unclosed(text: str, start: int, stop: int) -> TemplateError:
    line_end = text.find("\n", start)
    if 0 <= line_end < stop:
        stop = line_end
    return TemplateError(f'Unclosed tag "{_excerpt(text, start, stop).rstrip()}" at {_where(text, start)}: '
                         'add "}}"')


def _excerpt(text: str, start: int, end: int) -> str:
    piece = text[start:end]
    return piece if len(piece) <= _QUOTE_LIMIT else piece[:_QUOTE_LIMIT] + "…"


def _where(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"

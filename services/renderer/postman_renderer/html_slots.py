"""Where each ``{{ key }}`` tag of an HTML template stands (text, a link's text, an attribute, the start of a link's
address), found by one scan of the template's own text, so that each value can be escaped for where it lands.

The scan follows the HTML tokenizer's tag and attribute states (a quoted value ends only at its own quote; ``>``
inside one does not end the tag) and, because a value is escaped, never reads a value as opening or closing
anything. It is linear in the template's length: it jumps between the characters that change state with
``str.find`` and single character-class runs, and no regular expression here can backtrack, so no template, however
long its runs of spaces, can stall the renderer (issue 13).

Links: a value decides a link's scheme when it can reach the start of an ``href``/``src`` value, so:

* a tag is at a URL's start (``SlotPosition.URL``) when everything since the attribute's ``=`` is white space or
  other tags: in ``href="{{a}}{{b}}"`` or ``href={{a}} {{b}}`` both are, and each value loses a scheme other than
  http, https, mailto or tel on its own;
* and because values can also *make* a scheme together (``{{a}}`` "java", ``{{b}}`` "script:..."), or with the
  letters around them (``{{a}}script{{b}}``), the tags of a value that come while a scheme can still be forming
  (only letters, digits, ``+ - .``, white space, character references and tags so far) form a ``UrlStart``: at
  render time the start of the address is put together as a browser reads it, and when its scheme is not allowed
  every one of those values is left out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from postman_shared.email_html import URL_SCHEMES

URL_ATTRIBUTES = frozenset({"href", "src"})
UNKNOWN = "\x00"  # a tag or attribute name a value takes part in: it could be any name

# Each pattern but one is one character class, matched or searched from a position: it cannot backtrack.
_TAG_NAME_RUN = re.compile(r"[^\t\n\f\r />]*")
_ATTRIBUTE_NAME_RUN = re.compile(r"[^\t\n\f\r />=]*")
_SPACE_RUN = re.compile(r"[\t\n\f\r ]*")
_SPACE_OR_SLASH_RUN = re.compile(r"[\t\n\f\r /]*")
# A whole attribute, read in one match where it lies within one piece of text; every quantifier is possessive and
# the alternatives start with different characters, so it cannot backtrack either. Group 1: a quoted value.
_WHOLE_ATTRIBUTE = re.compile(r"""[^\t\n\f\r />][^\t\n\f\r />=]*+[\t\n\f\r ]*+"""  # the name, white space
                              r"""(?:=[\t\n\f\r ]*+(?:("[^"]*+"|'[^']*+')"""  # = and a quoted value
                              r"""|[^\t\n\f\r >"'][^\t\n\f\r >]*+(?=[\t\n\f\r >])))?+""")  # or an unquoted one
_UNQUOTED_VALUE_RUN = re.compile(r"[^\t\n\f\r >]*")
_NOT_BLANK = re.compile(r"[^\x00-\x20]")  # what a URL parser does not strip from the start of an address
_NOT_SCHEME = re.compile(r"[^A-Za-z0-9+.\-&#;\x00-\x20]")  # ends any chance of a scheme still forming
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20]")
_HTML_SPACE = "\t\n\f\r "
_ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class SlotPosition(Enum):
    """Where a tag stands in the HTML around it, which decides how its value is escaped."""

    TEXT = "text"
    LINK_TEXT = "link text"  # in the text of an <a> element
    URL = "url"  # at the start of an href or src value: nothing but white space and tags before it
    ATTRIBUTE = "attribute"  # anywhere else inside a tag


@dataclass(frozen=True)
class UrlStart:
    """Tags that may together make the scheme of one ``href``/``src`` value, with the template's text around them:
    ``literals[0]`` from the value's start to the first tag, then between tags, then after the last tag up to the
    first character that settles the scheme (or the value's end). Rendered together, as a browser reads them."""

    slots: tuple[int, ...]  # indexes of the tags in the template
    literals: tuple[str, ...]  # len(slots) + 1 pieces of the template's own (HTML) text

    def allows(self, rendered: Sequence[str]) -> bool:
        """Whether the address the escaped ``rendered`` values (one per slot) make has an allowed scheme (or none)."""
        parts = [self.literals[0]]
        for value, literal in zip(rendered, self.literals[1:], strict=True):
            parts += (value, literal)
        return url_scheme_allowed(html.unescape("".join(parts)))


@dataclass(frozen=True)
class SlotMap:
    """Where every tag of a template stands."""

    positions: tuple[SlotPosition, ...]
    url_starts: tuple[UrlStart, ...]

    def left_out(self, slots: Sequence[str], values: Mapping[str, object],
                 escapes: Sequence[Callable[[str], str]]) -> frozenset[int]:
        """The tags whose values must render as nothing for these values: those of every ``UrlStart`` whose
        address would get a scheme that is not allowed."""
        out: set[int] = set()
        for start in self.url_starts:
            rendered = [escapes[index](_text(values.get(slots[index]))) for index in start.slots]
            if not start.allows(rendered):
                out.update(start.slots)
        return frozenset(out)


def url_scheme_allowed(address: str) -> bool:
    """Whether ``address`` (decoded text) has no scheme or one of URL_SCHEMES. Every control character and space
    is dropped first: a browser strips them at the ends and drops tabs and newlines inside, so ``java\\tscript:``
    is read as ``javascript:``."""
    scheme = _SCHEME.match(_IGNORED_IN_URLS.sub("", address))
    return scheme is None or scheme.group(1).lower() in URL_SCHEMES


def scan(literals: Sequence[str]) -> SlotMap:
    """The position of each tag of a parsed HTML template (``literals`` around the tags)."""
    scanner = _Scanner()
    for index, literal in enumerate(literals):
        scanner.feed(literal)
        if index < len(literals) - 1:
            scanner.slot(index)
    scanner.end()
    return SlotMap(tuple(scanner.positions), tuple(scanner.url_starts))


def _end(run: re.Pattern[str], text: str, i: int) -> int:
    """Where a run of ``run``'s characters from ``i`` ends."""
    found = run.match(text, i)
    return found.end() if found else i


def _text(value: object) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


class _State(Enum):
    DATA = "data"
    TAG_OPEN = "tag open"  # just after "<" (or "</"): a value there may start a tag's name
    TAG_NAME = "tag name"
    BEFORE_ATTRIBUTE = "before attribute name"
    ATTRIBUTE_NAME = "attribute name"
    AFTER_ATTRIBUTE_NAME = "after attribute name"
    BEFORE_VALUE = "before attribute value"
    QUOTED_VALUE = "quoted attribute value"
    UNQUOTED_VALUE = "unquoted attribute value"
    AFTER_QUOTED_VALUE = "after quoted attribute value"
    COMMENT = "comment"  # <!-- ... -->
    BOGUS_COMMENT = "bogus comment"  # <!x ...>, <?x ...>, </ x>: ends at ">"


class _Scanner:
    """The tokenizer's state carried from one literal to the next."""

    def __init__(self) -> None:
        self.state = _State.DATA
        self.tag = ""  # lower-cased name of the tag being read
        self.closing = False
        self.attribute = ""  # lower-cased name of the attribute being read
        self.quote = ""
        self.links = 0  # <a> elements open around the text
        self.positions: list[SlotPosition] = []
        self.url_starts: list[UrlStart] = []
        # the value being read, when it is an href or src (or an attribute whose name a value takes part in)
        self.url = False
        self.blank = False  # nothing but white space and tags in it so far
        self.forming = False  # a scheme can still be forming
        self.start_slots: list[int] = []
        self.start_literals: list[str] = []

    # --- tags between literals ---

    def slot(self, index: int) -> None:
        state = self.state
        if state is _State.DATA:
            self.positions.append(SlotPosition.LINK_TEXT if self.links else SlotPosition.TEXT)
            return
        if state is _State.BEFORE_VALUE:
            self._begin_value("")  # the value starts an unquoted attribute value
            state = self.state
        if state in (_State.QUOTED_VALUE, _State.UNQUOTED_VALUE):
            self.positions.append(SlotPosition.URL if self.url and self.blank else SlotPosition.ATTRIBUTE)
            if self.url and self.forming:
                self.start_slots.append(index)
                self.start_literals.append("")
            return
        self.positions.append(SlotPosition.ATTRIBUTE)
        if state is _State.TAG_OPEN:
            self.state, self.tag = _State.TAG_NAME, UNKNOWN
        elif state is _State.TAG_NAME:
            self.tag = UNKNOWN
        elif state in (_State.BEFORE_ATTRIBUTE, _State.ATTRIBUTE_NAME, _State.AFTER_ATTRIBUTE_NAME,
                       _State.AFTER_QUOTED_VALUE):
            self.state, self.attribute = _State.ATTRIBUTE_NAME, UNKNOWN

    def end(self) -> None:
        if self.state in (_State.QUOTED_VALUE, _State.UNQUOTED_VALUE):
            self._end_value()

    # --- literal text ---

    def feed(self, text: str) -> None:
        i, n = 0, len(text)
        while i < n:
            i = self._step(text, i, n)

    def _step(self, text: str, i: int, n: int) -> int:  # noqa: C901 - one branch per tokenizer state
        """Consumes text from ``i`` in the current state; returns where to go on."""
        state = self.state
        if state is _State.DATA:
            start = text.find("<", i)
            if start < 0:
                return n
            return self._open(text, start + 1, n)
        if state is _State.TAG_OPEN:
            return self._open(text, i, n, closing=self.closing)
        if state is _State.TAG_NAME:
            end = _end(_TAG_NAME_RUN, text, i)
            if self.tag != UNKNOWN:
                self.tag += text[i:end].lower()
            i = end
            if i < n:
                return self._tag_space(text[i], i)
            return n
        if state is _State.BEFORE_ATTRIBUTE or state is _State.AFTER_QUOTED_VALUE:
            if state is _State.AFTER_QUOTED_VALUE or text[i] in _HTML_SPACE or text[i] == "/":
                self.state = _State.BEFORE_ATTRIBUTE
                i = _end(_SPACE_OR_SLASH_RUN, text, i)
                if i >= n:
                    return n
            if text[i] == ">":
                return self._close_tag(i)
            whole = _WHOLE_ATTRIBUTE.match(text, i)
            if whole is not None and whole.end() < n and text[whole.end()] != "=":
                # complete within this text, so with no tag inside: nothing to track
                self.state = _State.AFTER_QUOTED_VALUE if whole.group(1) else _State.BEFORE_ATTRIBUTE
                return whole.end()
            self.state = _State.ATTRIBUTE_NAME
            end = _end(_ATTRIBUTE_NAME_RUN, text, i + 1)  # a first "=" belongs to the name
            self.attribute = text[i:end].lower()
            return end
        if state is _State.ATTRIBUTE_NAME:
            end = _end(_ATTRIBUTE_NAME_RUN, text, i)
            if self.attribute != UNKNOWN:
                self.attribute += text[i:end].lower()
            i = end
            if i >= n:
                return n
            character = text[i]
            if character == "=":
                self.state = _State.BEFORE_VALUE
                return i + 1
            if character == ">":
                return self._close_tag(i)
            self.state = _State.AFTER_ATTRIBUTE_NAME if character != "/" else _State.BEFORE_ATTRIBUTE
            return i + 1
        if state is _State.AFTER_ATTRIBUTE_NAME:
            i = _end(_SPACE_RUN, text, i)
            if i >= n:
                return n
            character = text[i]
            if character == "=":
                self.state = _State.BEFORE_VALUE
                return i + 1
            if character == ">":
                return self._close_tag(i)
            self.state = _State.BEFORE_ATTRIBUTE
            return i if character != "/" else i + 1
        if state is _State.BEFORE_VALUE:
            i = _end(_SPACE_RUN, text, i)
            if i >= n:
                return n
            character = text[i]
            if character == ">":
                return self._close_tag(i)
            if character in "\"'":
                self._begin_value(character)
                return i + 1
            self._begin_value("")
            return i
        if state is _State.QUOTED_VALUE:
            end = text.find(self.quote, i)
            if end < 0:
                self._value_text(text[i:])
                return n
            self._value_text(text[i:end])
            self._end_value()
            self.state = _State.AFTER_QUOTED_VALUE
            return end + 1
        if state is _State.UNQUOTED_VALUE:
            end = _end(_UNQUOTED_VALUE_RUN, text, i)
            self._value_text(text[i:end])
            if end >= n:
                return n
            self._end_value()
            if text[end] == ">":
                return self._close_tag(end)
            self.state = _State.BEFORE_ATTRIBUTE
            return end + 1
        if state is _State.COMMENT:
            ends = [at for at in (text.find("-->", i), text.find("--!>", i)) if at >= 0]
            if not ends:
                return n
            self.state = _State.DATA
            return text.index(">", min(ends)) + 1
        # bogus comment
        end = text.find(">", i)
        if end < 0:
            return n
        self.state = _State.DATA
        return end + 1

    def _open(self, text: str, i: int, n: int, closing: bool = False) -> int:
        """After "<" (``closing``: "</"): a tag, an end tag, a comment, or plain text."""
        if i >= n:
            self.state, self.closing = _State.TAG_OPEN, closing
            return n
        character = text[i]
        if character in _ASCII_LETTERS:
            self.state, self.tag, self.closing = _State.TAG_NAME, "", closing
            return i
        if closing:
            if character == ">":  # "</>" is dropped
                self.state = _State.DATA
                return i + 1
            self.state = _State.BOGUS_COMMENT
            return i
        if character == "/":
            return self._open(text, i + 1, n, closing=True)
        if character == "!":
            if text.startswith("--", i + 1):
                self.state = _State.COMMENT
                if text.startswith(">", i + 3) or text.startswith("->", i + 3):  # <!--> and <!---> end at once
                    self.state = _State.DATA
                    return text.index(">", i + 3) + 1
                return i + 3
            self.state = _State.BOGUS_COMMENT
            return i + 1
        if character == "?":
            self.state = _State.BOGUS_COMMENT
            return i + 1
        self.state = _State.DATA  # "a < b": text
        return i

    def _tag_space(self, character: str, i: int) -> int:
        """After a tag's name: white space or "/" (attributes follow) or ">"."""
        if character == ">":
            return self._close_tag(i)
        self.state = _State.BEFORE_ATTRIBUTE
        return i + 1

    def _close_tag(self, i: int) -> int:
        if self.tag == "a":
            self.links = max(0, self.links - 1) if self.closing else self.links + 1
        self.state = _State.DATA
        return i + 1

    # --- the value of an attribute ---

    def _begin_value(self, quote: str) -> None:
        self.state = _State.QUOTED_VALUE if quote else _State.UNQUOTED_VALUE
        self.quote = quote
        self.url = self.attribute in URL_ATTRIBUTES or self.attribute == UNKNOWN
        self.blank = self.forming = True
        self.start_slots, self.start_literals = [], [""]

    def _value_text(self, piece: str) -> None:
        if not self.url or not piece:
            return
        if self.blank and _NOT_BLANK.search(piece):
            self.blank = False
        if self.forming:
            settled = _NOT_SCHEME.search(piece)
            if settled is None:
                self.start_literals[-1] += piece
            else:
                self.start_literals[-1] += piece[:settled.end()]
                self.forming = False

    def _end_value(self) -> None:
        # One tag with nothing but white space around it (href="{{ link }}", the usual case) is settled by its own
        # escape (SlotPosition.URL): no need to put the address together again for every message.
        alone = len(self.start_slots) == 1 and self.start_literals[1] == "" and not _NOT_BLANK.search(
            self.start_literals[0])
        if self.url and self.start_slots and not alone:
            self.url_starts.append(UrlStart(tuple(self.start_slots), tuple(self.start_literals)))
        self.url = False
        self.start_slots, self.start_literals = [], []


def without(escapes: Sequence[Callable[[str], str]], left_out: frozenset[int]) -> Sequence[Callable[[str], str]]:
    """``escapes`` with the tags of ``left_out`` (``SlotMap.left_out``) rendering as nothing."""
    if not left_out:
        return escapes
    return tuple(_nothing if index in left_out else escape for index, escape in enumerate(escapes))


def _nothing(value: str) -> str:
    return ""

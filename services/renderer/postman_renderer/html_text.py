"""The plain text of an email's HTML: what the ``text/plain`` part of a campaign email says.

It is made once per job from the HTML *template* (the theme around the body, each ``{{ key }}`` tag standing as an
inert word-character placeholder), so a message's text is then only a join of its values into a text template; no
HTML is parsed per message.

What a reader of the text sees: each paragraph, heading, list, table or block quote is separated by an empty line;
a line break, a list item, a table row or cell and a ``div`` start a new line; list items start with ``- `` (or
``1. `` in a numbered list); a link reads ``text (address)`` unless its text is its address or it points within the
page (``#...``); images are left out; whitespace is collapsed as a browser would, except in ``pre``; elements hidden
with ``display:none`` (the preheader), and ``head``, ``title``, ``style`` and ``script``, say nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "blockquote", "pre", "hr",
                        "dl"})
LINES = frozenset({"div", "li", "tr", "td", "th", "dt", "dd", "caption", "section", "article", "header", "footer",
                   "center"})
SILENT = frozenset({"head", "title", "style", "script", "template"})
_HIDDEN_STYLE = re.compile(r"display\s*+:\s*+none", re.IGNORECASE)
_LINE_ENDS = re.compile(r"\r\n?")


def html_to_text(html: str, markers: frozenset[str] = frozenset(),
                 same_address: Callable[[str], str] = lambda text: text,
                 link_address: Callable[[str], str] = lambda href: f" ({href})") -> str:
    """The text of ``html``, ending with a newline (or empty). An element named in ``markers`` (a start tag such as
    ``<x-body-start>``) leaves ``\\x00<name>\\x00`` in the text, where it stood, and changes nothing else.
    ``same_address`` maps a link's text and address before they are compared (placeholders to their keys);
    ``link_address`` writes an address after its link's text."""
    writer = _TextWriter(markers, same_address, link_address)
    writer.feed(html)
    writer.close()
    return writer.text()


class _TextWriter(HTMLParser):
    def __init__(self, markers: frozenset[str], same_address: Callable[[str], str],
                 link_address: Callable[[str], str]) -> None:
        super().__init__(convert_charrefs=True)
        self._markers = markers
        self._same = same_address
        self._address = link_address
        self._out: list[str] = []
        self._written = False  # any text yet (breaks before the first text are dropped)
        self._line_start = True
        self._pending = 0  # newlines owed before the next text: 1 a new line, 2 an empty line between
        self._space = False  # a space owed before the next text on the same line
        self._silent: list[str] = []  # the hidden element being skipped, repeated once per nested same-name tag
        self._pre = 0
        self._lists: list[int] = []  # per open list: 0 unordered, else the next number
        self._links: list[tuple[str, int]] = []  # per open <a>: its href, and where its text starts in _out

    def text(self) -> str:
        text = "".join(self._out).strip(" \n")
        return text + "\n" if text else ""

    def _break(self, newlines: int) -> None:
        self._pending = max(self._pending, newlines)

    def _write(self, text: str) -> None:
        if self._pending and self._written:
            self._out.append("\n" * self._pending)
            self._line_start = True
        elif self._space and not self._line_start:
            self._out.append(" ")
        self._pending, self._space = 0, False
        self._out.append(text)
        self._written = True
        self._line_start = text.endswith("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._silent:
            if tag == self._silent[0]:
                self._silent.append(tag)
            return
        if tag in self._markers:
            self._out.append(f"\x00{tag}\x00")
            return
        style = dict(attrs).get("style") or ""
        if tag in SILENT or _HIDDEN_STYLE.search(style):
            if tag not in VOID:
                self._silent.append(tag)
            return
        if tag == "br":
            if self._written:
                self._pending = min(self._pending + 1, 2)
            return
        if tag in PARAGRAPHS:
            self._break(2)
        elif tag in LINES:
            self._break(1)
        if tag == "pre":
            self._pre += 1
        elif tag in ("ul", "ol"):
            self._lists.append(1 if tag == "ol" else 0)
        elif tag == "li":
            number = self._lists[-1] if self._lists else 0
            if number:
                self._lists[-1] += 1
            self._write(f"{number}. " if number else "- ")
            self._line_start = True  # the item's text follows the bullet without a space of its own
        elif tag == "a":
            self._links.append(((dict(attrs).get("href") or "").strip(), len(self._out)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._silent:
            if tag == self._silent[-1]:
                self._silent.pop()
            return
        if tag == "a" and self._links:
            href, start = self._links.pop()
            shown = "".join(self._out[start:]).strip()
            if href and not href.startswith("#") and self._same(href) not in (
                    self._same(shown), "mailto:" + self._same(shown), "tel:" + self._same(shown)):
                self._write(self._address(href) if shown else href)
            return
        if tag == "pre":
            self._pre = max(0, self._pre - 1)
        elif tag in ("ul", "ol") and self._lists:
            self._lists.pop()
        if tag in PARAGRAPHS:
            self._break(2)
        elif tag in LINES:
            self._break(1)

    def handle_data(self, data: str) -> None:
        if self._silent or not data:
            return
        if self._pre:
            self._write(_LINE_ENDS.sub("\n", data))
            return
        words = " ".join(data.split())
        if not words:
            self._space = self._space or self._written
            return
        if data[0].isspace():
            self._space = True
        self._write(words)
        self._space = data[-1].isspace()


VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                  "wbr"})

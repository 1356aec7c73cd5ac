"""Telegram's parse_mode HTML accepts a few tags only: everything else is removed before sending."""

from __future__ import annotations

import pytest

from postman_shared.telegram_bot import telegram_html


@pytest.mark.parametrize("html", [
    "<b>bold</b> <strong>strong</strong> <i>i</i> <em>em</em> <u>u</u> <ins>ins</ins>",
    "<s>s</s> <strike>strike</strike> <del>del</del> <tg-spoiler>hidden</tg-spoiler>",
    '<span class="tg-spoiler">hidden</span> <a href="https://www.gov.sg/">gov.sg</a>',
    '<code>x = 1</code> <pre><code class="language-python">print(1)</code></pre> <blockquote>quoted</blockquote>',
])
def test_telegrams_own_tags_are_kept_as_they_are(html):
    assert telegram_html(html) == html


def test_other_tags_are_removed_but_their_text_is_kept():
    assert telegram_html("<p>Dear <div>resident</div>, <h1>hello</h1></p>") == "Dear resident, hello"


def test_br_becomes_a_newline_since_telegram_has_no_br():
    assert telegram_html("line one<br>line two<br/>line three<BR />end") == "line one\nline two\nline three\nend"


def test_scripts_and_styles_are_dropped_with_their_content():
    assert telegram_html("a<script>alert(1)</script><style>b{}</style>b") == "ab"


def test_attributes_telegram_does_not_know_are_removed():
    assert telegram_html('<b title="t" lang="en" onclick="x()">hi</b>') == "<b>hi</b>"
    assert telegram_html('<a href="https://x.gov.sg/" title="t" target="_blank">x</a>') == (
        '<a href="https://x.gov.sg/">x</a>')


def test_a_span_that_is_not_a_spoiler_and_a_link_without_href_are_unwrapped():
    assert telegram_html('<span class="big">big <span class="tg-spoiler">secret</span></span>') == (
        'big <span class="tg-spoiler">secret</span>')
    assert telegram_html('<a href="javascript:alert(1)">click</a> <a name="x">anchor</a>') == "click anchor"


def test_text_is_escaped_with_entities_telegram_knows():
    assert telegram_html("1 < 2 & 3 > 2") == "1 &lt; 2 &amp; 3 &gt; 2"
    assert telegram_html("a&nbsp;b") == "a\u00a0b"  # Telegram does not know &nbsp;


def test_expandable_blockquote_keeps_its_bare_attribute():
    assert telegram_html("<blockquote expandable>long</blockquote>") == "<blockquote expandable>long</blockquote>"


def test_tg_links_are_allowed():
    assert telegram_html('<a href="tg://user?id=42">you</a>') == '<a href="tg://user?id=42">you</a>'

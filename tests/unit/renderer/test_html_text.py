"""The plain text of an email's HTML, as the text/plain part says it."""

from __future__ import annotations

import pytest

from postman_renderer.html_text import html_to_text


@pytest.mark.parametrize(("html", "text"), [
    ("<p>Dear <b>Ann</b>,</p><p>See   you\n soon.</p>", "Dear Ann,\n\nSee you soon.\n"),
    ("<h2>Title</h2>Line one<br>line two<br><br>after a blank line",
     "Title\n\nLine one\nline two\n\nafter a blank line\n"),
    ("<ul><li>one</li><li>two <i>2</i></li></ul><ol><li>first</li><li>second</li></ol>",
     "- one\n- two 2\n\n1. first\n2. second\n"),
    ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a\nb\nc\n"),
    ('<p>Go <a href="https://x.sg/a?b=1&amp;c=2">there</a>.</p>', "Go there (https://x.sg/a?b=1&c=2).\n"),
    ('<a href="https://x.sg">https://x.sg</a> <a href="mailto:a@b.sg">a@b.sg</a> <a href="#top">top</a>',
     "https://x.sg a@b.sg top\n"),
    ('<a href="https://x.sg/logo"><img src="logo.png" alt="Logo"></a>', "https://x.sg/logo\n"),
    ("<pre>  keep\n   this </pre>", "keep\n   this\n"),
    ('<div style="display: none">hidden <p>too</p></div><head><title>t</title></head><p>shown</p>', "shown\n"),
    ("<style>p {}</style><script>x()</script>&lt;tag&gt; &amp; &nbsp;done", "<tag> & done\n"),
    ("", ""),
])
def test_html_becomes_the_text_a_reader_sees(html, text):
    assert html_to_text(html) == text


def test_a_marker_leaves_a_mark_where_it_stood_and_changes_nothing_else():
    html = "<p>before</p><x-start><p>inside</p><x-end><p>after</p>"
    marked = html_to_text(html, frozenset({"x-start", "x-end"}))
    assert marked == "before\x00x-start\x00\n\ninside\x00x-end\x00\n\nafter\n"
    assert marked.replace("\x00x-start\x00", "").replace("\x00x-end\x00", "") == html_to_text(html)

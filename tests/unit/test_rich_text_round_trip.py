"""The email template editor (web/static/js/rich-text-editor.js) writes only what the renderer's sanitiser keeps: each
feature's HTML, in the shape the editor hands it to the form (as tests/browser/test_rich_text_editor.py sees it in
Chromium), comes out of the sanitiser unchanged, so saving and loading a message changes nothing. And the page gives
the editor the sanitiser's own allowlist, under a policy that differs from every page's only in the images it shows.
"""

from __future__ import annotations

import json

import pytest

from postman_gateway.web.campaign import rich_text
from postman_gateway.web.security import CSP
from postman_renderer.sanitise import sanitise_email_html
from postman_shared.email_html import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, LINK_REL, URL_SCHEMES

IMAGE = "https://images.example.gov.sg/clinic.svg"

EDITOR_OUTPUT = {
    "paragraphs": "<p>Dear {{recipient}},</p><p>Your results are ready.</p>",
    "bold": "<p>Your results are <b>ready</b>.</p>",
    "italic": "<p>They are <i>private</i>.</p>",
    "underline": "<p><u>Thank you</u></p>",
    "bold italic underline": "<p><u><i>Thank you</i></u> and <b><i>well done</i></b></p>",
    "heading": "<h2>Next steps</h2><p>Read on.</p>",
    "subheading": "<h3>Before you come</h3>",
    "bulleted list": "<ul><li>Bring your IC</li><li>Arrive early</li></ul>",
    "numbered list": "<ol><li>Book</li><li>Come</li></ol>",
    "link": '<p>Read <a href="https://www.gov.sg/results" rel="noopener noreferrer">our guide</a>.</p>',
    "mailto link": '<p><a href="mailto:help@example.gov.sg" rel="noopener noreferrer">help@example.gov.sg</a></p>',
    "link to a key": '<p><a href="{{protectedlink}}" rel="noopener noreferrer">Open your message</a></p>',
    "table": '<table border="1" cellpadding="8"><tbody><tr><td>Day</td><td>Time</td></tr>'
             '<tr><td><br></td><td><br></td></tr></tbody></table>',
    "image": f'<p><img src="{IMAGE}" alt="The clinic’s sign"><br></p>',
    "field": "<p>Dear {{name}}, your appointment is on {{appointment}}.</p>",
    "no-break space at the end of a line": "<p>Total:&nbsp;</p>",
    "empty line": "<p>Dear {{name}},</p><p><br></p><p>See you.</p>",
    "characters": "<p>&lt;b&gt; is not bold &amp; “quotes” stay</p>",
    "pasted from a word processor": "<p><b>Dear {{name}},</b></p><p>·&nbsp;&nbsp;  Bring your IC</p>"
                                    "<p>Click here <u><i>Thank you</i></u>&nbsp;</p>",
}


@pytest.mark.parametrize("html", EDITOR_OUTPUT.values(), ids=EDITOR_OUTPUT.keys())
def test_what_the_editor_writes_the_sanitiser_keeps_unchanged(html: str):
    assert sanitise_email_html(html) == html
    assert sanitise_email_html(sanitise_email_html(html)) == html  # saved, loaded, saved again


def test_the_editor_is_given_the_sanitisers_own_allowlist():
    given = json.loads(rich_text.allowed_html())
    assert set(given["tags"]) == ALLOWED_TAGS
    assert {tag: set(names) for tag, names in given["attributes"].items()} == ALLOWED_ATTRIBUTES
    assert set(given["url_schemes"]) == URL_SCHEMES
    assert given["link_rel"] == LINK_REL
    for tag, names in given["attributes"].items():
        assert "style" not in names and not any(name.startswith("on") for name in names), tag


def test_the_editors_page_policy_differs_only_in_the_images_it_shows():
    def directives(policy: str) -> dict[str, str]:
        return dict(part.strip().split(" ", 1) for part in policy.split(";"))

    editor, everywhere = directives(rich_text.EDITOR_CSP), directives(CSP)
    assert {name for name in editor if editor[name] != everywhere[name]} == {"img-src"}
    assert editor["img-src"] == "'self' data: https: http:"
    assert "'unsafe-inline'" not in rich_text.EDITOR_CSP

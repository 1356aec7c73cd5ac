"""The email template step as served for its rich-text editor: the sanitiser's allowlist and the insertable keys for
the script, the vendored editor and DOMPurify before it, and the page's policy showing https images; the SMS and
Telegram steps stay plain textareas under every page's policy. (The editor itself: tests/browser.)"""

from __future__ import annotations

import html
import json
import re

import pytest

from postman_gateway.web.campaign import rich_text
from postman_gateway.web.security import CSP
from tests.integration.web.conftest import post_form
from tests.support.inprocess import running


@pytest.fixture
def services(settings):
    with running(settings, "auth", "campaign", "renderer", "stats"):
        yield


pytestmark = pytest.mark.usefixtures("services")


def new_campaign(officer, name: str, channel: str) -> str:
    created = post_form(officer.client, "/campaigns/new", name=name, channel=channel)
    assert created.status_code == 303, created.get_data(as_text=True)
    return created.headers["Location"]


def attribute(page: str, name: str) -> str:
    found = re.search(rf'\s{name}="([^"]*)"', page)
    assert found, name
    return html.unescape(found.group(1))


def test_the_email_step_gives_the_editor_the_allowlist_and_the_keys_and_shows_https_images(web_sign_in):
    officer = web_sign_in()
    template = new_campaign(officer, "Editor", "EMAIL")
    saved = post_form(officer.client, template, intent="save", subject="Hello",
                      body="<p>Dear {{name}}, on {{day}}</p>", from_name="", from_address="", reply_to="",
                      show_logo="yes")
    assert saved.status_code == 303, saved.get_data(as_text=True)[:2000]
    response = officer.client.get(template)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert json.loads(attribute(page, "data-allowed-html")) == json.loads(rich_text.allowed_html())
    assert json.loads(attribute(page, "data-keys")) == ["recipient", "name", "day"]
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert [s.rsplit("/", 1)[-1] for s in scripts[-4:]] == ["purify.min.js", "squire.js", "rich-text-editor.js",
                                                          "campaign-template.js"]
    assert response.headers["Content-Security-Policy"] == rich_text.EDITOR_CSP
    assert 'name="body"' in page  # the textarea is still the form's field, for the page without scripts


@pytest.mark.parametrize("channel", ["SMS", "TELEGRAM"])
def test_the_text_channels_steps_have_no_editor(web_sign_in, channel: str):
    officer = web_sign_in()
    response = officer.client.get(new_campaign(officer, "Plain", channel))
    page = response.get_data(as_text=True)
    assert "data-allowed-html" not in page and "squire.js" not in page and "rich-text-editor.js" not in page
    assert response.headers["Content-Security-Policy"] == CSP

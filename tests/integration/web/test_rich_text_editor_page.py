"""The email template step as served for its rich-text editor: the sanitiser's allowlist and the insertable keys for
the script, the vendored editor and DOMPurify before it, and the page's policy showing https images; the SMS and
Telegram steps stay plain textareas under every page's policy. A saved email template's edit page has the same
editor; a saved SMS or Telegram template's does not. (The editor itself: tests/browser.)"""

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


def saved_template_page(officer, channel: str, body: str):
    """The edit page of a template saved from a new campaign of ``channel`` whose message is ``body``."""
    template = new_campaign(officer, f"Saved {channel}", channel)
    fields = {"subject": "Hello", "from_name": "", "from_address": "", "reply_to": "",
              "show_logo": "yes"} if channel == "EMAIL" else {}
    saved = post_form(officer.client, template, intent="save", body=body, **fields)
    assert saved.status_code == 303, saved.get_data(as_text=True)[:2000]
    campaign_id = template.rstrip("/").split("/")[-2]
    made = post_form(officer.client, f"/templates/from-campaign/{campaign_id}", template_name=f"Saved {channel}")
    assert made.status_code == 303, made.get_data(as_text=True)[:2000]
    listed = officer.client.get("/templates").get_data(as_text=True)
    found = re.search(r'href="(/templates/\d+)"', listed)
    assert found, listed
    return officer.client.get(found.group(1))


def test_a_saved_email_templates_edit_page_has_the_editor_as_the_template_step_has(web_sign_in):
    officer = web_sign_in()
    response = saved_template_page(officer, "EMAIL", "<p>Dear {{name}}</p>")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert attribute(page, "data-rich-text") == "body"
    assert json.loads(attribute(page, "data-allowed-html")) == json.loads(rich_text.allowed_html())
    assert json.loads(attribute(page, "data-keys")) == ["recipient", "name"]
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert [s.rsplit("/", 1)[-1] for s in scripts[-3:]] == ["purify.min.js", "squire.js", "rich-text-editor.js"]
    assert response.headers["Content-Security-Policy"] == rich_text.EDITOR_CSP
    assert 'name="body"' in page


@pytest.mark.parametrize("channel", ["SMS", "TELEGRAM"])
def test_a_saved_text_templates_edit_page_has_no_editor(web_sign_in, channel: str):
    officer = web_sign_in()
    response = saved_template_page(officer, channel, "Hi {{name}}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "data-rich-text" not in page and "squire.js" not in page and "rich-text-editor.js" not in page
    assert response.headers["Content-Security-Policy"] == CSP

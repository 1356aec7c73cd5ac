"""Password-protected email in the pages, as a browser without scripts sees them (the encryption itself is the
browser tests' part): the choice when creating a campaign, the template step's rule, the recipients step that
takes only what the page's script makes (a version 2 file) and refuses a file of passwords, and the recipient's page
of the link, which never says whether an id exists."""

from __future__ import annotations

import base64
import csv
import io
import re
import uuid

import pytest

from postman_shared import protected_format
from tests.integration.web.conftest import post_form
from tests.integration.web.test_campaign_pages import email_frame, error_summary, page, upload
from tests.support.inprocess import running


@pytest.fixture
def services(settings):
    with running(settings, "auth", "campaign", "renderer", "stats"):
        yield


pytestmark = pytest.mark.usefixtures("services")

PROTECTED_BODY = '<p>Dear {{recipient}}, <a href="{{protectedlink}}">open your result</a>.</p>'


def browser_made_file(rows):
    """What the recipients page's script uploads: recipient,payload,accesshash,id,salt,iterations."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["recipient", "payload", "accesshash", "id", "salt", "iterations"])
    for recipient, password, message in rows:
        message_id = str(uuid.uuid4())
        sealed, salt = protected_format.v2_seal(message, password, message_id)
        writer.writerow([recipient, sealed.payload, sealed.check, message_id, base64.b64encode(salt).decode(),
                         protected_format.V2_ITERATIONS])
    return out.getvalue().encode()


def test_a_protected_campaign_through_the_pages(web_sign_in):
    officer = web_sign_in()
    created = post_form(officer.client, "/campaigns/new", name="Exam results", channel="EMAIL", protect="yes")
    assert created.status_code == 303, created.get_data(as_text=True)
    campaign = created.headers["Location"].removesuffix("/template")

    template_page = page(officer, f"{campaign}/template")
    assert 'id="protected-explainer"' in template_page and "{{protectedlink}}" in template_page
    refused = post_form(officer.client, f"{campaign}/template", subject="Your result",
                        body="<p>Dear {{name}}: {{protectedlink}}</p>",
                        **{"from": "Postman <donotreply@mail.postman.gov.sg>"}, reply_to="")
    assert refused.status_code == 400
    assert any("{{name}}" in message for _, message in error_summary(refused.get_data(as_text=True)))
    saved = post_form(officer.client, f"{campaign}/template", subject="Your result", body=PROTECTED_BODY,
                      **{"from": "Postman <donotreply@mail.postman.gov.sg>"}, reply_to="")
    assert saved.status_code == 303, saved.get_data(as_text=True)

    recipients_page = page(officer, f"{campaign}/recipients")
    assert 'id="protect-form"' in recipients_page and 'id="protected-message"' in recipients_page
    # Neither the file of passwords nor the message may ever be posted: their fields have no name.
    assert not re.search(r'<textarea[^>]*name=', recipients_page)
    assert not re.search(r'<input[^>]*id="file"[^>]*name=', recipients_page)

    passwords = upload(officer, campaign, "passwords.csv", b"recipient,password,name\nana@example.gov.sg,S1,Ana\n",
                       scripted=True)
    assert "recipient,payload,passwordhash,id" in passwords["error"], passwords

    data = browser_made_file([("ana@example.gov.sg", "S1111111A", "<p>Ana</p>"),
                              ("ben@example.gov.sg", "S2222222B", "<p>Ben</p>")])
    status = upload(officer, campaign, "results.csv", data, scripted=True)
    assert (status["error"], status["num_recipients"]) == ("", 2), status
    review = email_frame(officer, page(officer, f"{campaign}/review"))
    assert re.search(r"/p/2/[0-9a-f-]{36}", review), "the review shows the email as sent: with its link"


def test_only_email_campaigns_can_be_password_protected(web_sign_in):
    officer = web_sign_in()
    refused = post_form(officer.client, "/campaigns/new", name="Texts", channel="SMS", protect="yes")
    assert refused.status_code == 400
    assert ("protect", "Only email campaigns can be password-protected: choose Email, or untick "
                       "Password-protected") in error_summary(refused.get_data(as_text=True))


def test_the_link_page_never_says_whether_an_id_exists(http):
    unknown = str(uuid.uuid4())
    first, again = http.get(f"/p/2/{unknown}"), http.get(f"/p/2/{unknown}")
    assert first.status_code == again.status_code == 200
    salt = re.search(r'data-kdf-salt="([^"]+)"', first.get_data(as_text=True)).group(1)
    assert salt == re.search(r'data-kdf-salt="([^"]+)"', again.get_data(as_text=True)).group(1)
    assert len(base64.b64decode(salt)) == 16 and 'data-kdf-iterations="600000"' in first.get_data(as_text=True)
    assert first.headers["Cache-Control"] == "no-store" and first.headers["Referrer-Policy"] == "no-referrer"
    assert first.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert "'unsafe-inline'" not in first.headers["Content-Security-Policy"]
    not_found = http.get("/p/1/not-a-uuid")
    assert not_found.status_code == 404 and not_found.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert http.get(f"/p/3/{unknown}").status_code == 404

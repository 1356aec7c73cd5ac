"""The campaign journey through the pages, as a browser without scripts drives it (Flask's test client keeps the
session cookie; every POST carries the CSRF token of the page it came from): create, write the message (with its
preview and the renderer's errors on the field), upload the recipients (and a wrong file's line errors), choose a
Twilio account against the Twilio fake, review the first message exactly as it will arrive, send, follow the
progress until every outcome is counted, download the failed and invalid recipients, retry. Also: what a recipient
file supplies is escaped, a send without the CSRF token is refused, another officer's campaign is a 404.

The services run in-process on the test stores; sender-email delivers to a local SMTP server (it is started after
sign-in: until then the one-time password email must stay on its queue for the test to read).
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import replace

import pytest

from postman_gateway.web.campaign.template_preview import frame_token
from postman_shared.credentials import new_master_key
from tests.conftest import TESTDATA
from tests.fakes.smtp import FakeSmtpServer
from tests.fakes.twilio import FakeTwilio
from tests.integration.gateway.conftest import poll
from tests.integration.web.conftest import csrf_token, post_form
from tests.support.agencies import officer_of_new_agency
from tests.support.inprocess import running
from tests.support.module_fakes import fresh_smtp, fresh_twilio, purge_queues

REFUSED = "officer1@example.gov.sg"
TWILIO_KEY, TWILIO_SECRET = "SK" + secrets.token_hex(16), "twilio-secret-" + secrets.token_hex(8)
TWILIO_ACCOUNT = {"twilio_account_sid": "AC" + secrets.token_hex(16), "twilio_api_key": TWILIO_KEY,
                  "twilio_api_secret": TWILIO_SECRET, "twilio_messaging_service_sid": "MG" + secrets.token_hex(16)}
EMAIL_TEMPLATE = {"subject": "Your appointment, {{name}}",
                  "body": "<p>Dear {{name}},</p><p>See you on {{appointment}}.</p>",
                  "from": "Postman <donotreply@mail.postman.gov.sg>", "reply_to": ""}


TWILIO_INVALID = {"+447911123456"}


@pytest.fixture(scope="module")
def module_smtp():
    with FakeSmtpServer(refuse={REFUSED: "User unknown"}) as server:
        yield server


@pytest.fixture(scope="module")
def module_twilio():
    with FakeTwilio(api_key=TWILIO_KEY, api_secret=TWILIO_SECRET, invalid=TWILIO_INVALID) as fake:
        yield fake


@pytest.fixture(scope="module")
def module_system(module_settings, module_smtp, module_twilio):
    """The module's settings wired to its fakes, with everything but sender-email (which a test starts once its
    officers are signed in) started once for the module: each test signs in officers of its own."""
    wired = replace(module_settings, email_transport="smtp", smtp_host="127.0.0.1", smtp_port=module_smtp.port,
                    credentials_key=new_master_key(), twilio_api_base=module_twilio.base_url)
    purge_queues(wired.amqp_url)
    with running(wired, "auth", "campaign", "renderer", "stats", "sender-sms"):
        yield wired


@pytest.fixture
def settings(module_system):
    return module_system


@pytest.fixture
def services(module_system, module_twilio):
    """The module's services, and its Twilio fake made fresh for this test (nothing sent, no refusal but its own)."""
    fresh_twilio(module_twilio, invalid=TWILIO_INVALID)


@pytest.fixture
def smtp(services, module_smtp):
    return fresh_smtp(module_smtp, refuse={REFUSED: "User unknown"})


@pytest.fixture
def twilio(services, module_twilio):
    return module_twilio


pytestmark = pytest.mark.usefixtures("services")


def page(officer, url: str, status: int = 200) -> str:
    response = officer.client.get(url)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[:3000])
    return response.get_data(as_text=True)


def submit(officer, url: str, action: str | None = None, **fields):
    return post_form(officer.client, url, action, **fields)


def new_campaign(officer, name: str, channel: str) -> str:
    created = submit(officer, "/campaigns/new", name=name, channel=channel)
    assert created.status_code == 303, created.get_data(as_text=True)
    found = re.fullmatch(r"/campaigns/(\d+)/template", created.headers["Location"])
    assert found, created.headers["Location"]
    return f"/campaigns/{found.group(1)}"


def upload(officer, campaign: str, name: str, data: bytes, scripted: bool = False) -> dict:
    """Posts the file as the upload form does (``scripted``: as its script does) and waits for the check."""
    form = officer.client.get(f"{campaign}/recipients")
    headers = {"X-Requested-With": "XMLHttpRequest"} if scripted else {}
    posted = officer.client.post(f"{campaign}/recipients", headers=headers, content_type="multipart/form-data",
                                 data={"csrf_token": csrf_token(form), "file": (io.BytesIO(data), name)})
    if scripted:
        assert posted.status_code == 202, posted.get_data(as_text=True)
        assert posted.json == {"status_url": f"{campaign}/recipients/status", "page_url": f"{campaign}/recipients"}
    else:
        assert (posted.status_code, posted.headers.get("Location")) == (303, f"{campaign}/recipients"), \
            posted.get_data(as_text=True)
    return poll(lambda: officer.client.get(f"{campaign}/recipients/status").json,
                lambda status: not status["processing"], f"{name} to be checked")


def progress_when_finished(officer, campaign: str) -> dict:
    def fetch():
        progress = officer.client.get(f"{campaign}/progress").json
        assert progress["unsent"] + progress["sent"] + progress["error"] == progress["valid"], progress
        return progress

    return poll(fetch, lambda progress: progress["finished"], "the campaign to finish", timeout=60)


def csv_rows(officer, url: str) -> list[list[str]]:
    response = officer.client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def email_frame(officer, html: str) -> str:
    """The email the page shows in its sandboxed frame: the frame's own document, served under its own policy."""
    found = re.search(r'<iframe class="email-frame" id="preview-body" src="([^"]+)" sandbox title="[^"]+"></iframe>',
                      html)
    assert found, "the page shows no email frame"
    response = officer.client.get(found.group(1).replace("&amp;", "&"))
    assert response.status_code == 200, response.get_data(as_text=True)
    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox; default-src 'none'; style-src 'unsafe-inline'") and "script" not in policy
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN" and response.mimetype == "text/html"
    return response.get_data(as_text=True)


def error_summary(html: str) -> list[tuple[str, str]]:
    """(link target, message) of each entry of the page's error summary."""
    summary = re.search(r'<div class="error-summary".*?</ul>', html, re.DOTALL)
    assert summary, "no error summary on the page"
    return re.findall(r'<li><a href="#([^"]+)">(.*?)</a></li>', summary.group(0), re.DOTALL)


def test_an_email_campaign_from_creation_to_its_failed_recipients_and_a_retry(web_sign_in, settings, smtp):
    officer = web_sign_in()
    new = page(officer, "/campaigns/new")
    assert 'id="name"' in new and 'id="channel-email"' in new and 'id="channel-sms"' in new
    campaign = new_campaign(officer, "Dental reminders", "EMAIL")

    editor = page(officer, f"{campaign}/template")
    assert 'id="subject"' in editor and 'id="body"' in editor and "donotreply@mail.postman.gov.sg" in editor
    previewed = submit(officer, f"{campaign}/template", intent="preview", **EMAIL_TEMPLATE)
    assert previewed.status_code == 200
    preview = previewed.get_data(as_text=True)
    assert "<code>name</code>, <code>appointment</code>" in preview  # the keys the message uses
    assert "<code>recipient</code>, <code>name</code>, <code>appointment</code>" in preview  # the columns needed
    assert "Your appointment, [name]" in preview and "<p>Dear [name],</p>" not in preview  # the email is framed
    framed = email_frame(officer, preview)
    assert "<p>Dear [name],</p><p>See you on [appointment].</p>" in framed and "show_logo" not in framed
    assert f">{settings.default_agency_name}</p>" in framed and "An email from a Singapore Government agency" in framed
    assert page(officer, f"{campaign}/recipients").count("<code>name</code>") == 0  # nothing was saved

    live = officer.client.post(f"{campaign}/template/preview",
                               data={"csrf_token": csrf_token(previewed), **EMAIL_TEMPLATE})
    assert live.status_code == 200 and "<html" not in live.get_data(as_text=True)  # the fragment, for the script
    assert "See you on [appointment]." in email_frame(officer, live.get_data(as_text=True))

    saved = submit(officer, f"{campaign}/template", intent="save", **EMAIL_TEMPLATE)
    assert (saved.status_code, saved.headers["Location"]) == (303, f"{campaign}/recipients")
    recipients_page = page(officer, f"{campaign}/recipients")
    assert all(f"<code>{column}</code>" in recipients_page for column in ("recipient", "name", "appointment"))

    status = upload(officer, campaign, "email_basic.csv", (TESTDATA / "email_basic.csv").read_bytes(),
                    scripted=True)
    assert (status["error"], status["num_recipients"]) == ("", 5)
    done = page(officer, f"{campaign}/recipients")
    assert "email_basic.csv" in done and "<strong>5</strong> recipients" in done and 'id="continue"' in done

    review = page(officer, f"{campaign}/review")
    assert '<dd id="preview-subject">Your appointment, Tan Ah Kow</dd>' in review
    assert f'id="review-agency">In the look of {settings.default_agency_name}, under the government masthead.' in review
    assert "<p>Dear Tan Ah Kow,</p><p>See you on 2026-12-01 10:00.</p>" in email_frame(officer, review)
    assert '<dd id="preview-from">Postman &lt;donotreply@mail.postman.gov.sg&gt;</dd>' in review
    assert re.search(r'id="review-recipients">5 in email_basic.csv', review)
    assert 'id="review-invalid">0 ' in review and 'id="send"' in review and "Singapore time" in review

    with running(settings, "campaign", "sender-email"):
        sent = submit(officer, f"{campaign}/review", when="now")
        assert (sent.status_code, sent.headers["Location"]) == (303, campaign), sent.get_data(as_text=True)
        progress = progress_when_finished(officer, campaign)
        assert (progress["sent"], progress["error"], progress["invalid"], progress["unsent"]) == (4, 1, 0, 0)
        assert progress["status"] == "Sent" and progress["percent"] == 100

        shown = page(officer, campaign)
        assert '<progress class="progress" id="progress" max="5" value="5"' in shown
        assert '<td id="count-sent">4</td>' in shown and '<td id="count-error">1</td>' in shown
        assert 'id="retry"' in shown and 'id="download-failed"' in shown and "campaign-progress.js" not in shown
        # (this campaign's: the services are the module's, and another test's campaign sent without sender-email
        # may have left its messages on the queue for this sender-email)
        campaign_id = campaign.rsplit("/", 1)[1]
        assert sorted(rcpt for message in smtp.campaign_messages for rcpt in message.rcpt_tos
                      if f".{campaign_id}@" in message.parsed()["Message-ID"]) == \
            [f"officer{i}@example.gov.sg" for i in (0, 2, 3, 4)]

        failed = csv_rows(officer, f"{campaign}/export/failed.csv")
        assert failed[0] == ["recipient", "status", "error_code", "updated_at"]
        assert [(row[0], row[1]) for row in failed[1:]] == [(REFUSED, "ERROR")] and failed[1][2]
        assert csv_rows(officer, f"{campaign}/export/invalid.csv") == [["recipient", "status", "error_code",
                                                                         "updated_at"]]
        everyone = csv_rows(officer, f"{campaign}/export/all.csv")
        assert sorted((row[0], row[1]) for row in everyone[1:]) == sorted(
            [(f"officer{i}@example.gov.sg", "SENT") for i in (0, 2, 3, 4)] + [(REFUSED, "ERROR")])

        smtp.accept(REFUSED)  # the mailbox was fixed
        retried = submit(officer, campaign, f"{campaign}/retry")
        assert (retried.status_code, retried.headers["Location"]) == (303, campaign)
        again = poll(lambda: officer.client.get(f"{campaign}/progress").json,
                     lambda p: p["finished"] and p["error"] == 0, "the retry to finish", timeout=60)
        assert (again["sent"], again["error"]) == (5, 0)
    assert 'id="retry"' not in page(officer, campaign)


def test_a_sent_campaign_has_no_editing_steps_and_cannot_be_sent_twice(web_sign_in, settings):
    officer = web_sign_in()
    campaign = new_campaign(officer, "Once only", "EMAIL")
    submit(officer, f"{campaign}/template", intent="save", **EMAIL_TEMPLATE)
    upload(officer, campaign, "email_basic.csv", (TESTDATA / "email_basic.csv").read_bytes())
    review = officer.client.get(f"{campaign}/review")
    token = csrf_token(review)
    assert officer.client.post(f"{campaign}/review", data={"csrf_token": token, "when": "now"}).status_code == 303
    for step in ("template", "recipients", "review"):
        moved = officer.client.get(f"{campaign}/{step}")
        assert (moved.status_code, moved.headers["Location"]) == (303, campaign)
    twice = officer.client.post(f"{campaign}/review", data={"csrf_token": token, "when": "now"})
    assert twice.status_code == 303 and twice.headers["Location"] == campaign  # a sent campaign: its page


def test_a_wrong_file_shows_its_line_errors_linked_to_the_file_field(web_sign_in):
    officer = web_sign_in()
    campaign = new_campaign(officer, "Ragged", "EMAIL")
    status = upload(officer, campaign, "bad_ragged_row.csv", (TESTDATA / "bad_ragged_row.csv").read_bytes())
    assert "line 3" in status["error"]
    shown = page(officer, f"{campaign}/recipients")
    [(target, message)] = error_summary(shown)
    assert target == "file" and "bad_ragged_row.csv: line 3 has 3 fields but the header has 2" in message
    assert '<p class="error-message" id="file-error">' in shown and 'aria-describedby="file-error"' in shown

    no_file = submit(officer, f"{campaign}/recipients")
    assert no_file.status_code == 400
    assert error_summary(no_file.get_data(as_text=True)) == [
        ("file", "Choose a file of recipients to upload (a spreadsheet or a CSV file)")]


def test_a_template_the_renderer_refuses_is_shown_on_its_field_with_its_line_and_column(web_sign_in):
    officer = web_sign_in()
    campaign = new_campaign(officer, "Broken", "EMAIL")
    refused = submit(officer, f"{campaign}/template", intent="save",
                     **{**EMAIL_TEMPLATE, "body": "<p>Dear {{name}},</p>\n<p>See you on {{ appointment </p>"})
    assert refused.status_code == 400
    [(target, message)] = error_summary(refused.get_data(as_text=True))
    assert target == "body" and "line 2" in message and "column" in message
    assert '<p class="error-message" id="body-error">' in refused.get_data(as_text=True)
    missing = submit(officer, "/campaigns/new", name="", channel="")
    assert missing.status_code == 400 and [t for t, _ in error_summary(missing.get_data(as_text=True))] == \
        ["name", "channel-email"]


def test_what_a_recipient_file_supplies_is_escaped_and_formulas_are_defused_in_downloads(web_sign_in):
    officer = web_sign_in()
    campaign = new_campaign(officer, "Escaping", "SMS")
    submit(officer, f"{campaign}/template", intent="save", body="Hello {{name}}")
    data = (b"recipient,name\n"
            b"+65 9123 4567,<script>alert('x')</script> & <b>bold</b>\n"
            b"=HYPERLINK(\"http://evil.example\"),Mallory\n")
    upload(officer, campaign, "people.csv", data)
    review = officer.client.get(f"{campaign}/review").get_data(as_text=True)
    assert "<script>alert" not in review and "<b>bold</b>" not in review
    assert "Hello &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in review
    assert re.search(r'id="review-invalid">1 ', review)

    invalid = csv_rows(officer, f"{campaign}/export/invalid.csv")
    assert invalid[1][:2] == ["'=HYPERLINK(\"http://evil.example\")", "INVALID"]

    email = new_campaign(officer, "Escaping email", "EMAIL")
    submit(officer, f"{email}/template", intent="save", **EMAIL_TEMPLATE)
    upload(officer, email, "people.csv", (b"recipient,name,appointment\n"
                                          b"a@example.gov.sg,<script>alert(1)</script><img src=x onerror=alert(2)>,"
                                          b"<a href=\"javascript:alert(3)\">today</a>\n"))
    review = email_frame(officer, page(officer, f"{email}/review"))
    assert "<script>alert" not in review and "<img" not in review and '<a href="javascript' not in review
    assert "Dear &lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;," in review
    assert 'See you on &lt;a href=&quot;javascript:alert(3)&quot;&gt;today&lt;/a&gt;.' in review  # text, not a link


def test_an_sms_campaign_through_the_pages_with_a_twilio_account_checked_by_a_test_sms(web_sign_in, twilio):
    officer = web_sign_in()
    campaign = new_campaign(officer, "SMS reminders", "SMS")
    preview = submit(officer, f"{campaign}/template", intent="preview",
                     body="Dear {{name}}, your appointment is tomorrow.").get_data(as_text=True)
    assert "<strong>1 SMS part</strong> in GSM-7" in preview and 'id="sms-length"' in preview
    assert submit(officer, f"{campaign}/template", intent="save",
                  body="Dear {{name}}, your appointment is tomorrow.").headers["Location"] == f"{campaign}/recipients"
    upload(officer, campaign, "sms_sg_numbers.csv", (TESTDATA / "sms_sg_numbers.csv").read_bytes())

    recipients = page(officer, f"{campaign}/recipients")
    assert f'href="{campaign}/credentials" class="button" id="continue"' in recipients
    not_ready = page(officer, f"{campaign}/review")
    assert "Choose the Twilio account to send with." in not_ready

    wrong = submit(officer, f"{campaign}/credentials", intent="new",
                   **{**TWILIO_ACCOUNT, "twilio_api_secret": "wrong"}, new_recipient="+65 8765 4321")
    assert wrong.status_code == 400
    [(target, message)] = error_summary(wrong.get_data(as_text=True))
    assert target == "twilio_account_sid" and "Twilio refused these credentials" in message
    assert "wrong" not in wrong.get_data(as_text=True).split('id="twilio_api_secret"')[1][:200]

    added = submit(officer, f"{campaign}/credentials", intent="new", **TWILIO_ACCOUNT,
                   new_recipient="+65 8765 4321", new_label="moh-sms")
    assert (added.status_code, added.headers["Location"]) == (303, f"{campaign}/review"), \
        added.get_data(as_text=True)
    assert [sms.to for sms in twilio.sent] == ["+6587654321"]

    review = page(officer, f"{campaign}/review")
    assert '<div class="message-preview" id="preview-body">Dear A, your appointment is tomorrow.</div>' in review
    assert "This message takes 1 SMS part (GSM-7)" in review and 'name="rate"' in review and 'value="10"' in review
    assert re.search(r'id="review-invalid">1 ', review) and 'id="not-ready"' not in review

    too_fast = submit(officer, f"{campaign}/review", when="now", rate="5000")
    assert too_fast.status_code == 400
    assert error_summary(too_fast.get_data(as_text=True)) == [
        ("rate", "Enter a whole number of messages per second, from 1 to 1000")]
    sent = submit(officer, f"{campaign}/review", when="now", rate="50")
    assert (sent.status_code, sent.headers["Location"]) == (303, campaign)
    progress = progress_when_finished(officer, campaign)
    assert (progress["sent"], progress["error"], progress["invalid"]) == (4, 1, 1)
    assert 'id="send-rate">50 messages per second' in page(officer, campaign)
    assert len(twilio.sent) == 1 + 4  # the test SMS, then every valid row Twilio accepted

    second = new_campaign(officer, "Another", "SMS")
    choose = page(officer, f"{second}/credentials")
    assert 'id="label-0"' in choose and 'value="moh-sms"' in choose


def test_a_send_later_is_scheduled_in_singapore_time_and_can_be_cancelled(web_sign_in):
    officer = web_sign_in()
    campaign = new_campaign(officer, "Later", "EMAIL")
    submit(officer, f"{campaign}/template", intent="save", **EMAIL_TEMPLATE)
    upload(officer, campaign, "email_basic.csv", (TESTDATA / "email_basic.csv").read_bytes())
    past = submit(officer, f"{campaign}/review", when="later", date="2020-01-01", time="09:00")
    assert error_summary(past.get_data(as_text=True)) == [("date", "The time to send must be in the future")]

    scheduled = submit(officer, f"{campaign}/review", when="later", date="2099-12-01", time="09:30")
    assert scheduled.status_code == 303
    shown = page(officer, campaign)
    assert "1 December 2099, 9:30am (Singapore time)" in shown and 'id="cancel"' in shown
    assert 'id="progress"' not in shown

    confirm = page(officer, f"{campaign}/cancel")
    assert "1 December 2099, 9:30am (Singapore time)" in confirm
    cancelled = submit(officer, f"{campaign}/cancel")
    assert (cancelled.status_code, cancelled.headers["Location"]) == (303, campaign)
    assert 'id="steps"' in page(officer, campaign)  # a draft again


def test_a_draft_is_duplicated_and_deleted_after_a_confirmation(web_sign_in):
    officer = web_sign_in()
    campaign = new_campaign(officer, "Original", "EMAIL")
    submit(officer, f"{campaign}/template", intent="save", **EMAIL_TEMPLATE)
    assert 'value="Copy of Original"' in page(officer, f"{campaign}/duplicate")
    copied = submit(officer, f"{campaign}/duplicate", name="The copy")
    assert copied.status_code == 303 and copied.headers["Location"] != campaign
    copy = copied.headers["Location"]
    assert "<h1>The copy</h1>" in page(officer, copy)
    assert "Your appointment, {{name}}" in page(officer, f"{copy}/template")

    assert "This cannot be undone." in page(officer, f"{campaign}/delete")
    deleted = submit(officer, f"{campaign}/delete")
    assert (deleted.status_code, deleted.headers["Location"]) == (303, "/campaigns")
    page(officer, campaign, 404)


def test_a_send_without_the_csrf_token_is_refused(web_sign_in):
    officer = web_sign_in()
    campaign = new_campaign(officer, "Forged", "EMAIL")
    submit(officer, f"{campaign}/template", intent="save", **EMAIL_TEMPLATE)
    upload(officer, campaign, "email_basic.csv", (TESTDATA / "email_basic.csv").read_bytes())
    for data in ({"when": "now"}, {"when": "now", "csrf_token": "0" * 64}):
        refused = officer.client.post(f"{campaign}/review", data=data)
        assert refused.status_code == 400 and "did not come from this site" in refused.get_data(as_text=True)
        assert refused.mimetype == "text/html"
    another = web_sign_in()  # a token from another session is no good either
    stolen = csrf_token(another.client.get("/campaigns/new"))
    assert officer.client.post(f"{campaign}/review", data={"when": "now", "csrf_token": stolen}).status_code == 400
    assert '<strong class="tag tag--grey" id="status">Draft</strong>' in page(officer, campaign)


def test_another_officers_campaign_pages_are_not_found(web_sign_in):
    owner, other = web_sign_in(), web_sign_in()
    campaign = new_campaign(owner, "Private", "EMAIL")
    submit(owner, f"{campaign}/template", intent="save", **EMAIL_TEMPLATE)
    for step in ("", "/template", "/recipients", "/review", "/duplicate", "/delete", "/progress",
                 "/export/failed.csv", "/recipients/status", "/review/frame",
                 "/template/frame?t=" + frame_token("s", "<p>x</p>", True)):
        response = other.client.get(campaign + step)
        assert response.status_code == 404, (step, response.status_code)
    token = csrf_token(other.client.get("/campaigns/new"))
    for step in ("/delete", "/review", "/retry", "/template"):
        assert other.client.post(campaign + step, data={"csrf_token": token, "when": "now"}).status_code == 404
    assert page(owner, campaign) and "Private" in page(owner, campaign)
    page(owner, "/campaigns/99999999999999999999", 404)


def test_the_pages_have_no_inline_script_or_style(web_sign_in):
    officer = web_sign_in()
    campaign = new_campaign(officer, "Tidy", "TELEGRAM")
    for url in ("/campaigns/new", campaign, f"{campaign}/template", f"{campaign}/recipients",
                f"{campaign}/credentials", f"{campaign}/review", f"{campaign}/duplicate", f"{campaign}/delete"):
        html = page(officer, url)
        assert not re.search(r"<script(?![^>]*\ssrc=)", html), url
        assert not re.search(r'\sstyle="|\son[a-z]+="', html), url



def test_an_officers_emails_are_shown_in_their_agencys_look_with_the_logo_as_the_template_says(web_sign_in,
                                                                                              database):
    agency_officer = officer_of_new_agency(database, name="Ministry of <Pages>")
    officer = web_sign_in(agency_officer.email)
    campaign = new_campaign(officer, "Logo", "EMAIL")
    editor = page(officer, f"{campaign}/template")
    assert re.search(r'<input class="checkbox__input" id="show_logo" name="show_logo" type="checkbox" value="yes" '
                     r'checked', editor)  # a new template shows the logo
    framed = email_frame(officer, submit(officer, f"{campaign}/template", intent="preview", show_logo="yes",
                                         **EMAIL_TEMPLATE).get_data(as_text=True))
    assert f'<img src="{agency_officer.logo_uri}"' in framed and "Ministry of &lt;Pages&gt;" in framed

    without = submit(officer, f"{campaign}/template", intent="preview", **EMAIL_TEMPLATE)  # the box left unticked
    assert "<img" not in email_frame(officer, without.get_data(as_text=True))
    saved = submit(officer, f"{campaign}/template", intent="save", **EMAIL_TEMPLATE)
    assert saved.status_code == 303
    editor = page(officer, f"{campaign}/template")
    assert 'id="show_logo" name="show_logo" type="checkbox" value="yes" aria-describedby' in editor  # unticked
    assert "<img" not in email_frame(officer, editor)  # the saved template's preview, as saved

    upload(officer, campaign, "email_basic.csv", (TESTDATA / "email_basic.csv").read_bytes())
    review = page(officer, f"{campaign}/review")
    assert f"In the look of {agency_officer.agency.replace('<', '&lt;').replace('>', '&gt;')}, under the " in review
    assert "<img" not in email_frame(officer, review) and "Tan Ah Kow" in email_frame(officer, review)


@pytest.mark.parametrize("token", ["", "not-base64!", "eJwrzs9LyUktKklVSC7KLy4BAF4GB8c"])
def test_a_frame_of_a_template_that_does_not_read_says_so(web_sign_in, token):
    officer = web_sign_in()
    campaign = new_campaign(officer, "Frames", "EMAIL")
    response = officer.client.get(f"{campaign}/template/frame?t={token}")
    assert response.status_code == 404 and "There is no email to show here." in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"].startswith("sandbox;")

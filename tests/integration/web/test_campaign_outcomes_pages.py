"""The campaign page after sending, as a browser without scripts drives it: the outcomes in plain words (delivered,
read, bounced, marked as spam, not sent because suppressed or unsubscribed) adding up to the recipients; the "Stop
sending" button of a sending campaign and its refusal on a finished one; resuming a stopped campaign once the stop
has settled; a halted campaign's banner, and its resume only after the officer confirms they checked the list.

The services run in-process on the test stores. A campaign stays "sending" while sender-email is not running (its
messages wait on their queue); sender-email is started when a test wants them delivered, to a local SMTP server.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text

from postman.v1 import campaign_pb2, campaign_pb2_grpc, common_pb2, suppression_pb2, suppression_pb2_grpc
from postman_shared.grpc import client
from postman_shared.messages import DeliveryEvent
from postman_shared.timestamps import utcnow
from postman_stats import recording
from tests.conftest import TESTDATA
from tests.fakes.smtp import FakeSmtpServer
from tests.integration.gateway.conftest import poll
from tests.integration.web.conftest import audit_actions, csrf_token, post_form, user_id_of
from tests.support import service_identity
from tests.support.inprocess import running

REFUSED = "officer1@example.gov.sg"  # in tests/testdata/email_basic.csv: the SMTP server refuses it
TEMPLATE = {"subject": "Your appointment, {{name}}", "body": "<p>Dear {{name}}, see you on {{appointment}}.</p>",
            "from": "Postman <donotreply@mail.postman.gov.sg>", "reply_to": ""}
HALT_REASON = ("12 of 97 messages sent bounced permanently (12.4%), more than 10 and 10%: check the recipient "
               "list")


@pytest.fixture
def smtp():
    with FakeSmtpServer(refuse={REFUSED: "User unknown"}) as server:
        yield server


@pytest.fixture
def settings(settings, smtp):
    return replace(settings, email_transport="smtp", smtp_host="127.0.0.1", smtp_port=smtp.port)


@pytest.fixture
def services(settings):
    """Everything an email campaign needs but sender-email, which a test starts when it wants the messages out."""
    with running(settings, "auth", "campaign", "renderer", "stats"):
        yield


pytestmark = pytest.mark.usefixtures("services")


def page(officer, url: str, status: int = 200) -> str:
    response = officer.client.get(url)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[:3000])
    return response.get_data(as_text=True)


def error_summary(html: str) -> list[tuple[str, str]]:
    summary = re.search(r'<div class="error-summary".*?</ul>', html, re.DOTALL)
    assert summary, "no error summary on the page"
    return [(target, " ".join(message.split()))
            for target, message in re.findall(r'<li><a href="#([^"]+)">(.*?)</a></li>', summary.group(0), re.DOTALL)]


def count(html: str, name: str) -> int:
    found = re.search(rf'<td id="count-{name}">(\d+)</td>', html)
    assert found, f"no count-{name} on the page"
    return int(found.group(1))


def sent_campaign(officer, name: str, data: bytes | None = None) -> tuple[str, int]:
    """An email campaign made and sent through the pages; its page's address and id."""
    created = post_form(officer.client, "/campaigns/new", name=name, channel="EMAIL")
    campaign = created.headers["Location"].removesuffix("/template")
    assert post_form(officer.client, f"{campaign}/template", intent="save", **TEMPLATE).status_code == 303
    form = officer.client.get(f"{campaign}/recipients")
    posted = officer.client.post(f"{campaign}/recipients", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(form),
        "file": (io.BytesIO(data or (TESTDATA / "email_basic.csv").read_bytes()), "people.csv")})
    assert posted.status_code == 303, posted.get_data(as_text=True)
    poll(lambda: officer.client.get(f"{campaign}/recipients/status").json, lambda s: not s["processing"],
         "the file to be checked")
    sent = post_form(officer.client, f"{campaign}/review", when="now")
    assert (sent.status_code, sent.headers["Location"]) == (303, campaign), sent.get_data(as_text=True)
    return campaign, int(campaign.rsplit("/", 1)[1])


def jobs(database, campaign_id: int) -> list[tuple[int, str, int | None]]:
    with database.session() as session:
        return [tuple(row) for row in session.execute(text(
            "SELECT id, status, retry_of FROM jobs WHERE campaign_id = :c ORDER BY id"), {"c": campaign_id})]


def settle_the_stop(database, job_id: int) -> None:
    """As if the stop happened 6 seconds ago (a stopped job can be resumed 5 seconds after the stop)."""
    with database.unit_of_work() as session:
        session.execute(text("UPDATE jobs SET status_updated_at = :t WHERE id = :j"),
                        {"t": utcnow() - timedelta(seconds=6), "j": job_id})


def finished(officer, campaign: str, timeout: float = 60) -> dict:
    return poll(lambda: officer.client.get(f"{campaign}/progress").json, lambda p: p["finished"],
                "the campaign to finish", timeout=timeout)


def test_a_sending_campaign_is_stopped_with_its_button_and_resumed_once_the_stop_has_settled(
        web_sign_in, settings, database, smtp):
    officer = web_sign_in()
    campaign, campaign_id = sent_campaign(officer, "Stop me")
    sending = page(officer, campaign)
    assert 'id="stop"' in sending and ">Stop sending</button>" in sending and f'action="{campaign}/stop"' in sending
    assert 'id="resume"' not in sending and "campaign-progress.js" in sending

    stopped = post_form(officer.client, campaign, f"{campaign}/stop")
    assert (stopped.status_code, stopped.headers["Location"]) == (303, f"{campaign}?done=stopped")
    [(job_id, status, _)] = jobs(database, campaign_id)
    assert status == "STOPPED"
    shown = page(officer, f"{campaign}?done=stopped")
    assert 'id="notice"' in shown and "Sending stopped." in shown
    assert '<strong class="tag tag--red" id="status">Stopped</strong>' in shown
    assert 'id="stop"' not in shown and 'id="resume"' in shown and "Sending was stopped" in shown
    assert "(Singapore time)" in shown and "campaign-progress.js" not in shown
    assert officer.client.get(f"{campaign}/progress").json["job_status"] == "STOPPED"

    too_soon = post_form(officer.client, campaign, f"{campaign}/resume")
    assert too_soon.status_code == 400
    assert error_summary(too_soon.get_data(as_text=True)) == [
        ("sending", "Sending is still stopping: the messages that were being handed over are being recorded. Try "
                    "again in a few seconds.")]
    assert len(jobs(database, campaign_id)) == 1

    settle_the_stop(database, job_id)
    resumed = post_form(officer.client, campaign, f"{campaign}/resume")
    assert (resumed.status_code, resumed.headers["Location"]) == (303, f"{campaign}?done=resumed")
    assert [(status, retry_of) for _, status, retry_of in jobs(database, campaign_id)][1:] in (
        [("ENQUEUED", job_id)], [("SENDING", job_id)], [("SENT", job_id)])
    assert "Sending resumed" in page(officer, f"{campaign}?done=resumed")
    user_id = user_id_of(officer)
    actions = [action for action, _, _ in audit_actions(database, user_id)]
    assert actions[-3:] == ["campaign.sent", "campaign.stopped", "campaign.resumed"]

    # The messages go out: every recipient once, the refused address an error.
    with running(settings, "sender-email"):
        progress = finished(officer, campaign)
    assert (progress["sent"], progress["error"], progress["unsent"]) == (4, 1, 0)
    assert sorted(rcpt for message in smtp.campaign_messages for rcpt in message.rcpt_tos) == \
        [f"officer{i}@example.gov.sg" for i in (0, 2, 3, 4)]


def test_a_finished_campaign_cannot_be_stopped_and_the_page_says_why(web_sign_in, database):
    officer = web_sign_in()
    campaign, campaign_id = sent_campaign(officer, "Already done")
    [(job_id, _, _)] = jobs(database, campaign_id)
    token = csrf_token(officer.client.get(campaign))
    with database.unit_of_work() as session:  # every outcome counted meanwhile
        session.execute(text("UPDATE jobs SET status = 'LOGGED' WHERE id = :j"), {"j": job_id})
    assert 'id="stop"' not in page(officer, campaign)

    refused = officer.client.post(f"{campaign}/stop", data={"csrf_token": token})

    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    [(target, message)] = error_summary(html)
    assert target == "sending" and "is not sending" in message and "nothing to stop" in message
    assert 'id="sending"' in html and '<p class="error-message" id="sending-error">' in html
    assert jobs(database, campaign_id) == [(job_id, "LOGGED", None)]
    assert officer.client.post(f"{campaign}/stop").status_code == 400  # no CSRF token: refused before anything


def test_a_halted_campaign_says_why_and_resumes_only_once_the_officer_confirms(web_sign_in, settings, database):
    officer = web_sign_in()
    campaign, campaign_id = sent_campaign(officer, "Old list")
    [(job_id, _, _)] = jobs(database, campaign_id)
    campaigns = service_identity.stub(settings.campaign_addr, campaign_pb2_grpc.CampaignServiceStub)
    client.call(campaigns.HaltCampaign, campaign_pb2.HaltCampaignRequest(
        campaign_id=campaign_id, job_id=job_id, reason=HALT_REASON, counts=common_pb2.OutcomeCounts()))

    shown = page(officer, campaign)
    assert '<strong class="tag tag--red" id="status">Halted</strong>' in shown
    assert 'id="halted"' in shown and "Sending was halted" in shown and HALT_REASON in shown
    assert "(Singapore time)" in shown and 'href="/suppressions"' in shown
    assert f'<a href="{campaign}/resume" class="button" id="resume">' in shown  # a link to the confirmation
    assert 'id="stop"' not in shown
    listed = page(officer, "/campaigns")
    assert re.search(rf'id="campaign-{campaign_id}">.*?<strong class="tag tag--red">Halted</strong>', listed,
                     re.DOTALL)
    assert officer.client.get(f"{campaign}/progress").json["halted"] is True

    confirm = page(officer, f"{campaign}/resume")
    assert "Resume a halted campaign?" in confirm and HALT_REASON in confirm
    assert 'name="confirm_halted" type="checkbox" value="yes"' in confirm and "5 messages" in confirm

    unconfirmed = post_form(officer.client, f"{campaign}/resume")
    assert unconfirmed.status_code == 400
    assert error_summary(unconfirmed.get_data(as_text=True)) == [
        ("confirm_halted", "Confirm that you checked the recipient list, or go back to the campaign")]
    retried = post_form(officer.client, campaign, f"{campaign}/retry")  # the plain retry asks too
    assert (retried.status_code, retried.headers["Location"]) == (303, f"{campaign}/resume")
    too_soon = post_form(officer.client, f"{campaign}/resume", confirm_halted="yes")  # confirmed, the stop settling
    assert too_soon.status_code == 400 and "Resume a halted campaign?" in too_soon.get_data(as_text=True)
    assert error_summary(too_soon.get_data(as_text=True)) == [
        ("confirm", "Sending is still stopping: the messages that were being handed over are being recorded. Try "
                    "again in a few seconds.")]
    assert 'value="yes" checked' in too_soon.get_data(as_text=True)
    assert len(jobs(database, campaign_id)) == 1
    settle_the_stop(database, job_id)

    resumed = post_form(officer.client, f"{campaign}/resume", confirm_halted="yes")
    assert (resumed.status_code, resumed.headers["Location"]) == (303, f"{campaign}?done=resumed")
    assert [retry_of for _, _, retry_of in jobs(database, campaign_id)] == [None, job_id]
    after = page(officer, campaign)
    assert 'id="halted"' not in after and 'id="status">Sending</strong>' in after
    [(_, _, details)] = [event for event in audit_actions(database, user_id_of(officer))
                         if event[0] == "campaign.resumed"]
    assert details["confirmed_after_halt"] == HALT_REASON


def test_the_outcomes_are_shown_in_plain_words_and_add_up_to_the_recipients(web_sign_in, settings, database):
    officer = web_sign_in()
    user_id = user_id_of(officer)
    people = [f"outcome{n}@example.gov.sg" for n in range(8)]
    data = ("recipient,name,appointment\n" + "".join(f"{address},P{n},today\n" for n, address in enumerate(people))
            + "not-an-address,Q,today\n").encode()
    suppressions = service_identity.stub(settings.campaign_addr, suppression_pb2_grpc.SuppressionServiceStub)
    client.call(suppressions.AddSuppressions, suppression_pb2.AddSuppressionsRequest(entries=[
        suppression_pb2.Suppression(channel="EMAIL", recipient=people[6], user_id=user_id, reason="manual",
                                    created_by="officer"),
        suppression_pb2.Suppression(channel="EMAIL", recipient=people[7], user_id=user_id, reason="unsubscribe",
                                    created_by="unsubscribe-link")]))

    with running(settings, "sender-email"):
        campaign, campaign_id = sent_campaign(officer, "Outcomes", data)
        first = finished(officer, campaign)
    assert (first["sent"], first["invalid"], first["unsubscribed"], first["unsent"]) == (6, 2, 1, 0)
    with database.session() as session:
        ids = dict(session.execute(text("SELECT recipient, id FROM recipients WHERE campaign_id = :c AND valid"),
                                   {"c": campaign_id}).all())

    def receipt(n: int, status: str, code: str | None = None) -> DeliveryEvent:
        return DeliveryEvent(ids[people[n]], campaign_id, 0, status, code, None, kind="receipt")

    recording.record(database, [receipt(0, "DELIVERED"), receipt(1, "DELIVERED"), receipt(1, "OPENED"),
                                receipt(2, "BOUNCED", "hard_bounce"), receipt(3, "SOFT_BOUNCED", "soft_bounce"),
                                receipt(4, "COMPLAINT", "complaint")])

    shown = page(officer, campaign)
    expected = {"unsent": 0, "sent": 3, "delivered": 1, "opened": 1, "no-report": 1, "error": 0, "invalid": 5,
                "invalid-rows": 1, "hard-bounced": 1, "soft-bounced": 1, "complained": 1, "blacklisted": 1,
                "unsubscribed": 1, "total": 9}
    assert {name: count(shown, name) for name in expected} == expected
    for words in ("Delivered", "Read (opened)", "Bounced: the address does not exist", "Bounced: for now",
                  "Marked as spam", "Not sent: on the suppression list", "Not sent: unsubscribed", "No report yet"):
        assert f"{words}</th>" in shown, words
    top = ("unsent", "sent", "error", "invalid", "unsubscribed")
    assert sum(expected[name] for name in top) == expected["total"]
    assert expected["delivered"] + expected["opened"] + expected["no-report"] == expected["sent"]
    assert sum(expected[name] for name in ("invalid-rows", "hard-bounced", "soft-bounced", "complained",
                                           "blacklisted")) == expected["invalid"]
    assert '<progress class="progress" id="progress" max="8" value="8"' in shown  # every valid row dealt with

    progress = officer.client.get(f"{campaign}/progress").json
    assert {key: progress[key.replace("-", "_")] for key in expected} == expected
    assert (progress["valid"], progress["done"], progress["percent"]) == (8, 8, 100)


def test_the_new_pages_have_no_inline_script_or_style(web_sign_in, settings, database):
    officer = web_sign_in()
    campaign, campaign_id = sent_campaign(officer, "Tidy")
    [(job_id, _, _)] = jobs(database, campaign_id)
    campaigns = service_identity.stub(settings.campaign_addr, campaign_pb2_grpc.CampaignServiceStub)
    client.call(campaigns.HaltCampaign, campaign_pb2.HaltCampaignRequest(
        campaign_id=campaign_id, job_id=job_id, reason=HALT_REASON, counts=common_pb2.OutcomeCounts()))
    for url in (campaign, f"{campaign}/resume"):
        html = page(officer, url)
        assert not re.search(r"<script(?![^>]*\ssrc=)", html), url
        assert not re.search(r'\sstyle="|\son[a-z]+="', html), url

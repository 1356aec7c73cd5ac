"""What happens to a campaign's emails after SES took them, through every service in-process: the real boto3 client
against the SESv2 fake, SES's events signed by the SNS fake and posted to the gateway, sender-email turning them into
receipts for stats and suppression entries for the campaign service. The stats, the export and the next campaign
show it; a suppressed recipient is never handed to SES again."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace

import pytest

from tests.fakes.sns import TOPIC
from tests.integration.gateway.conftest import PIPELINE, poll, upload_file
from tests.support.inprocess import running

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TEMPLATE = {"subject": "Your results, {{ name }}", "body": "<p>Dear {{ name }}, your results are ready.</p>",
            "reply_to": None, "from": "Health Promotion Board <donotreply@mail.postman.gov.sg>"}
EVENTS_PATH = "/callbacks/ses/events"


@pytest.fixture
def settings(settings, ses, sns):
    return replace(settings, email_transport="ses", ses_endpoint_url=ses.endpoint_url,
                   ses_configuration_set="postman-tracked", ses_events_topic_arns=TOPIC,
                   sns_cert_url_prefix=sns.url_prefix, halt_hard_bounces=100)


@pytest.fixture(autouse=True)
def services(settings):
    with running(settings, *PIPELINE, "sender-email"):
        yield


def _people(count: int) -> list[str]:
    tag = secrets.token_hex(3)
    return [f"person{n}.{tag}@example.com" for n in range(count)]


def _campaign(http, caller, people: list[str], tmp_path) -> int:
    created = http.post("/v1/campaigns", headers=caller.headers, json={"name": "Results", "type": "EMAIL"})
    campaign_id = created.json["id"]
    assert http.put(f"/v1/campaign/{campaign_id}/email/template", headers=caller.headers,
                    json=TEMPLATE).status_code == 200
    listing = tmp_path / f"people-{campaign_id}.csv"
    listing.write_text("recipient,name\n" + "".join(f"{p},{p.split('.')[0].title()}\n" for p in people))
    upload_file(http, caller, campaign_id, listing)
    return campaign_id


def _send_and_finish(http, caller, campaign_id: int, total: int) -> dict:
    assert http.post(f"/v1/campaign/{campaign_id}/email/send", headers={**caller.headers, **FORM}).status_code == 200
    return _stats_when(http, caller, campaign_id, total, lambda s: s["status"] == "LOGGED", "the send LOGGED")


def _stats_when(http, caller, campaign_id: int, total: int, done, what: str) -> dict:
    def fetch():
        stats = http.get(f"/v1/campaign/{campaign_id}/email/stats", headers=caller.headers).json
        assert stats["unsent"] + stats["sent"] + stats["error"] + stats["invalid"] + stats["unsubscribed"] == total
        return stats

    return poll(fetch, done, what, timeout=60)


def _campaign_requests(ses, since: int = 0) -> list:
    """What SES was asked to send since ``since``, but the emails telling owners their campaign finished."""
    return [r for r in ses.sent[since:] if not r.parsed()["Message-ID"].startswith("<notice-")]


def _by_address(http, caller, campaign_id: int) -> dict[str, dict]:
    rows = json.loads(http.get(f"/v1/campaign/{campaign_id}/email/export", headers=caller.headers).get_data())
    return {row["recipient"]: row for row in rows}


def _post(http, sns, event: dict, twice: bool = False) -> None:
    message = sns.notification(TOPIC, event)
    for _ in range(2 if twice else 1):
        answer = http.post(EVENTS_PATH, data=json.dumps(message), content_type="text/plain; charset=UTF-8",
                           headers={"x-amz-sns-message-type": "Notification"})
        assert answer.status_code == 204


def test_ses_events_of_campaign_emails_reach_stats_and_export_and_suppress_the_next_campaign(
        http, caller, ses, sns, database, tmp_path):
    people = _people(7)
    delivered, opened, hard, soft, complained, rejected, silent = people
    campaign_id = _campaign(http, caller, people, tmp_path)
    _send_and_finish(http, caller, campaign_id, 7)
    ids = {ses_request.to[0]: ses_request.message_id for ses_request in _campaign_requests(ses)}

    _post(http, sns, sns.ses_event("Delivery", ids[delivered], recipients=[delivered]), twice=True)
    _post(http, sns, sns.ses_event("Delivery", ids[opened], recipients=[opened]))
    _post(http, sns, sns.ses_event("Open", ids[opened], recipients=[]))
    _post(http, sns, sns.ses_event("Bounce", ids[hard], recipients=[hard], bounce_type="Permanent",
                                   bounce_sub_type="NoEmail", diagnostic="smtp; 550 5.1.1 user unknown"))
    _post(http, sns, sns.ses_event("Delivery", ids[hard], recipients=[hard]))  # late: the bounce stands
    _post(http, sns, sns.ses_event("Bounce", ids[soft], recipients=[soft], bounce_type="Transient",
                                   bounce_sub_type="MailboxFull"))
    _post(http, sns, sns.ses_event("Delivery", ids[complained], recipients=[complained]))
    _post(http, sns, sns.ses_event("Complaint", ids[complained], recipients=[complained], complaint_type="abuse"))
    _post(http, sns, sns.ses_event("Reject", ids[rejected], recipients=[]))

    stats = _stats_when(http, caller, campaign_id, 7,
                        lambda s: s["outcomes"]["opened"] == 1 and s["outcomes"]["complained"] == 1 and s["error"] == 1,
                        "every event counted")
    assert (stats["sent"], stats["error"], stats["invalid"], stats["unsubscribed"]) == (3, 1, 3, 0)
    assert stats["outcomes"] == {"delivered": 1, "opened": 1, "hard_bounced": 1, "soft_bounced": 1,
                                 "complained": 1, "blacklisted": 0, "invalid_rows": 0}
    rows = _by_address(http, caller, campaign_id)
    assert {address: (rows[address]["status"], rows[address]["error_code"], rows[address]["error_sub_type"])
            for address in people} == {
        delivered: ("DELIVERED", None, None), opened: ("READ", None, None),
        hard: ("INVALID_RECIPIENT", "hard_bounce", "NoEmail"),
        soft: ("INVALID_RECIPIENT", "soft_bounce", "MailboxFull"),
        complained: ("INVALID_RECIPIENT", "complaint", "abuse"), rejected: ("ERROR", "ses_reject", None),
        silent: ("SENT", None, None)}

    # The next campaign, to the same people (and another owner's too): the hard bounce and the complaint are
    # suppressed for everyone, before SES.
    sent_before = len(ses.sent)
    follow_up = _campaign(http, caller, people, tmp_path)
    follow_stats = _send_and_finish(http, caller, follow_up, 7)
    assert (follow_stats["sent"], follow_stats["invalid"]) == (5, 2)
    assert follow_stats["outcomes"]["blacklisted"] == 2
    again = {request.to[0] for request in _campaign_requests(ses, sent_before)}
    assert again == set(people) - {hard, complained}
    follow_rows = _by_address(http, caller, follow_up)
    assert (follow_rows[hard]["status"], follow_rows[hard]["error_code"]) == ("BLACKLISTED", "hard_bounce")
    assert (follow_rows[complained]["status"], follow_rows[complained]["error_code"]) == ("BLACKLISTED", "complaint")


def test_a_campaign_email_carries_its_recipients_unsubscribe_link_and_an_unsubscribed_recipient_is_skipped_after(
        http, caller, ses, database, tmp_path, new_caller):
    people = _people(3)
    leaving, staying, _ = people
    campaign_id = _campaign(http, caller, people, tmp_path)
    _send_and_finish(http, caller, campaign_id, 3)
    [email] = [request.parsed() for request in _campaign_requests(ses) if request.to == (leaving,)]

    link = email["List-Unsubscribe"].split(",")[0].strip().strip("<>")
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in email.get_body(("html",)).get_content().replace("&amp;", "&")
    path = link.split("://", 1)[1].partition("/")[2]
    answer = http.post("/" + path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200

    rows = _by_address(http, caller, campaign_id)
    assert (rows[leaving]["unsubscriber.recipient"], rows[leaving]["unsubscriber.reason"]) == (leaving, "")
    assert rows[staying]["unsubscriber.recipient"] is None

    sent_before = len(ses.sent)
    follow_up = _campaign(http, caller, people, tmp_path)
    stats = _send_and_finish(http, caller, follow_up, 3)
    assert (stats["sent"], stats["unsubscribed"]) == (2, 1)
    assert {request.to[0] for request in _campaign_requests(ses, sent_before)} == {staying, people[2]}
    assert _by_address(http, caller, follow_up)[leaving]["status"] == "UNSUBSCRIBED"

    # Another agency's campaign still reaches them: an unsubscribe is from one sender.
    other = new_caller()
    sent_before = len(ses.sent)
    other_campaign = _campaign(http, other, [leaving], tmp_path)
    assert _send_and_finish(http, other, other_campaign, 1)["sent"] == 1
    assert [request.to for request in _campaign_requests(ses, sent_before)] == [(leaving,)]

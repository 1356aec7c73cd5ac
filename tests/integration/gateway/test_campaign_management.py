"""Campaign management through the public API, with the request shapes of the contract's client (bodiless POSTs
with a form content type, ``{}`` bodies): rename, delete, scheduled send and cancel, retry of what failed (through
the real renderer, stats and sender-email to a local SMTP server), refresh-stats, duplicate, clearing an upload
error, the test email, and the features this platform does not have."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from postman_sender_email.models import EmailDelivery
from tests.conftest import TESTDATA
from tests.fakes.smtp import FakeSmtpServer
from tests.integration.gateway.conftest import poll, upload_file
from tests.support.inprocess import running
from tests.support.module_fakes import fresh_smtp, purge_queues

FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # what axios adds to a POST without data
TEMPLATE = {"subject": "Your appointment, {{name}}", "body": "<p>Dear {{name}}, see you on {{appointment}}.</p>",
            "reply_to": None, "from": "Postman <donotreply@mail.postman.gov.sg>"}
REFUSED = ("officer1@example.gov.sg", "officer3@example.gov.sg")


@pytest.fixture(scope="module")
def module_smtp():
    with FakeSmtpServer(refuse={address: "User unknown" for address in REFUSED}) as server:
        yield server


@pytest.fixture(scope="module")
def module_system(module_settings, module_smtp):
    """The module's settings wired to its mail server, with the services started once for the module: the
    ``pipeline`` tests run on them too (sender-email then delivers what their campaigns send, to this server)."""
    wired = replace(module_settings, email_transport="smtp", smtp_host="127.0.0.1", smtp_port=module_smtp.port)
    purge_queues(wired.amqp_url)
    with running(wired, "auth", "campaign", "renderer", "stats", "sender-email"):
        yield wired


@pytest.fixture
def settings(module_system):
    return module_system


@pytest.fixture
def services(module_system):
    """The module's services."""


@pytest.fixture
def pipeline(module_system):
    """The module's services (the gateway conftest's ``pipeline`` and more)."""


@pytest.fixture
def smtp(module_smtp, module_system):
    """The module's mail server with no message and only its refusals, before anything of the test reaches it."""
    return fresh_smtp(module_smtp, refuse={address: "User unknown" for address in REFUSED})


def of_campaign(smtp, campaign_id):
    """The campaign messages of the campaign (a Message-ID is <recipient>.<campaign>[.<retry job>]@...): the mail
    server is the module's, and another test's campaign may be delivered to it at the same time."""
    return [m for m in smtp.campaign_messages
            if m.parsed()["Message-ID"].strip("<>").split("@")[0].split(".")[1] == str(campaign_id)]


def new_campaign(http, caller, name="Appointment reminders", channel="EMAIL", template=True, recipients=True):
    created = http.post("/v1/campaigns", headers=caller.headers, json={"name": name, "type": channel})
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]
    if template:
        saved = http.put(f"/v1/campaign/{campaign_id}/email/template", headers=caller.headers, json=TEMPLATE)
        assert saved.status_code == 200, saved.json
    if recipients:
        upload_file(http, caller, campaign_id, TESTDATA / "email_basic.csv")
    return campaign_id


def stats_when(http, caller, campaign_id, done, what):
    """Polls the stats until ``done``; at every poll the four counters add up to the 5 recipients."""
    def fetch():
        stats = http.get(f"/v1/campaign/{campaign_id}/email/stats", headers=caller.headers).json
        assert stats["unsent"] + stats["sent"] + stats["error"] + stats["invalid"] == 5, stats
        return stats

    return poll(fetch, done, what, timeout=60)


def in_a(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


@pytest.mark.usefixtures("services")
def test_retry_sends_again_only_what_failed_as_new_messages(http, caller, smtp, database):
    campaign_id = new_campaign(http, caller)
    base = f"/v1/campaign/{campaign_id}/email"
    assert http.post(f"{base}/send", headers={**caller.headers, **FORM}).status_code == 200
    first = stats_when(http, caller, campaign_id, lambda s: s["status"] == "LOGGED", "the first send LOGGED")
    assert (first["sent"], first["error"]) == (3, 2)

    for address in REFUSED:  # the mailboxes were fixed
        smtp.accept(address)
    retried = http.post(f"{base}/retry", headers={**caller.headers, **FORM})
    assert (retried.status_code, retried.json) == (200, {"campaign_id": campaign_id})
    second = stats_when(http, caller, campaign_id, lambda s: s["status"] == "LOGGED", "the retry LOGGED")
    assert (second["sent"], second["error"], second["unsent"]) == (5, 0, 0)

    received = Counter(rcpt for message in of_campaign(smtp, campaign_id) for rcpt in message.rcpt_tos)
    assert received == Counter({f"officer{i}@example.gov.sg": 1 for i in range(5)})
    # Only this owner's notices: other tests' campaigns may still be telling their owners.
    mine = poll(lambda: [m for m in smtp.owner_notices if m.rcpt_tos == (caller.email,)], lambda found: len(found) == 2,
                "the owner told of both finished jobs")
    assert [m.parsed()["Subject"] for m in mine] == ["Campaign finished: Appointment reminders"] * 2
    assert len({m.parsed()["Message-ID"] for m in mine}) == 2  # one per job
    jobs = http.get(base, headers=caller.headers).json["job_queue"]
    assert [job["status"] for job in jobs] == ["LOGGED", "LOGGED"]
    with database.session() as session:
        ids = list(session.scalars(select(EmailDelivery.message_id).where(EmailDelivery.campaign_id == campaign_id)))
    retry_ids = sorted(i for i in ids if "." in i)
    assert len(ids) == 7 and len(retry_ids) == 2  # 5 first attempts (3 SENT, 2 ERROR) and 2 new messages
    seeds = {m.rcpt_tos[0]: m.parsed()["Message-ID"].strip("<>").split("@")[0].split(".")
             for m in of_campaign(smtp, campaign_id)}
    assert len(seeds["officer0@example.gov.sg"]) == 2  # <recipient>.<campaign>
    assert [len(seeds[address]) for address in REFUSED] == [3, 3]  # <recipient>.<campaign>.<retry job>
    assert all(row["status"] == "SENT" for row in http.get(f"{base}/export", headers=caller.headers).json)

    # Nothing left to retry: the retry goes through the pipeline, sends nothing, and finishes.
    assert http.post(f"{base}/retry", headers=caller.headers).status_code == 200
    third = stats_when(http, caller, campaign_id, lambda s: s["status"] == "LOGGED", "the empty retry LOGGED")
    assert (third["sent"], third["error"]) == (5, 0) and len(of_campaign(smtp, campaign_id)) == 5
    assert len(http.get(base, headers=caller.headers).json["job_queue"]) == 3


@pytest.mark.usefixtures("services")
def test_refresh_stats_answers_like_stats(http, caller):
    campaign_id = new_campaign(http, caller, recipients=False)
    base = f"/v1/campaign/{campaign_id}/email"
    refreshed = http.post(f"{base}/refresh-stats", headers={**caller.headers, **FORM})
    read = http.get(f"{base}/stats", headers=caller.headers)
    assert refreshed.status_code == 200 and refreshed.json == read.json
    assert set(refreshed.json) >= {"unsent", "sent", "error", "invalid", "unsubscribed", "status", "updated_at",
                                   "outcomes"}
    never_sent = http.post(f"{base}/retry", headers={**caller.headers, **FORM})
    assert (never_sent.status_code, never_sent.json["code"]) == (400, "invalid_parameters")
    assert "has not been sent" in never_sent.json["message"]


@pytest.mark.usefixtures("pipeline")
def test_a_scheduled_send_waits_ready_until_cancelled_and_the_campaign_is_a_draft_again(http, caller):
    campaign_id = new_campaign(http, caller)
    base = f"/v1/campaign/{campaign_id}/email"
    when = in_a(2)
    scheduled = http.post(f"{base}/send", headers=caller.headers, data={"scheduledTiming": when})  # form-encoded
    assert scheduled.status_code == 200, scheduled.json
    assert scheduled.json["campaign_id"] == campaign_id and len(scheduled.json["job_id"]) == 1
    [job] = http.get(base, headers=caller.headers).json["job_queue"]
    assert job["status"] == "READY" and job["scheduled_at"][:16] == when[:16].replace("+00:00", "")
    assert http.get(f"{base}/stats", headers=caller.headers).json["status"] == "READY"
    listed = http.get("/v1/campaigns?status=Scheduled", headers=caller.headers).json
    assert [c["id"] for c in listed["campaigns"]] == [campaign_id]
    assert http.get("/v1/campaigns?status=Sending", headers=caller.headers).json["total_count"] == 0
    again = http.post(f"{base}/send", headers=caller.headers)
    assert (again.status_code, again.json["code"]) == (403, "already_sent")
    refused = http.delete(f"/v1/campaigns/{campaign_id}", headers=caller.headers)
    assert (refused.status_code, refused.json["code"]) == (403, "already_sent")
    assert "cancel the scheduled send" in refused.json["message"]

    cancelled = http.post(f"/v1/campaigns/{campaign_id}/cancel", headers={**caller.headers, **FORM})
    assert (cancelled.status_code, cancelled.json) == (200, {"id": str(campaign_id)})
    assert http.get(base, headers=caller.headers).json["job_queue"] == []
    nothing = http.post(f"/v1/campaigns/{campaign_id}/cancel", headers=caller.headers)
    assert (nothing.status_code, nothing.json["code"]) == (400, "invalid_parameters")
    assert "no scheduled send" in nothing.json["message"]
    assert http.get("/v1/campaigns?status=Draft", headers=caller.headers).json["total_count"] == 1


@pytest.mark.usefixtures("pipeline")
@pytest.mark.parametrize("send", [
    {"json": {"scheduledTiming": "next tuesday"}},
    {"data": {"scheduledTiming": "2026-13-45T25:00:00Z"}},
    {"json": {"scheduledTiming": 1767225600}},
], ids=["words-json", "impossible-date-form", "number-json"])
def test_an_unreadable_scheduled_timing_is_400_and_nothing_is_sent(http, caller, send):
    campaign_id = new_campaign(http, caller)
    response = http.post(f"/v1/campaign/{campaign_id}/email/send", headers=caller.headers, **send)
    assert (response.status_code, response.json["code"]) == (400, "api_validation")
    assert "scheduledTiming" in response.json["message"] and "ISO-8601" in response.json["message"]
    assert http.get(f"/v1/campaign/{campaign_id}/email", headers=caller.headers).json["job_queue"] == []


@pytest.mark.usefixtures("pipeline")
def test_a_scheduled_timing_in_the_past_sends_at_once(http, caller):
    campaign_id = new_campaign(http, caller)
    sent = http.post(f"/v1/campaign/{campaign_id}/email/send", headers=caller.headers,
                     json={"scheduledTiming": "2020-01-01T00:00:00.000Z"})
    assert sent.status_code == 200, sent.json
    [job] = http.get(f"/v1/campaign/{campaign_id}/email", headers=caller.headers).json["job_queue"]
    assert job["status"] != "READY" and job["scheduled_at"] is None


@pytest.mark.usefixtures("pipeline")
def test_rename_accepts_should_save_list_and_delete_removes_a_draft(http, caller):
    campaign_id = new_campaign(http, caller, template=False, recipients=False)
    renamed = http.put(f"/v1/campaigns/{campaign_id}", headers=caller.headers,
                       json={"name": "Renamed", "should_save_list": True})
    assert renamed.status_code == 200, renamed.json
    assert (renamed.json["id"], renamed.json["name"], renamed.json["should_save_list"]) == (campaign_id, "Renamed",
                                                                                            False)
    assert http.put(f"/v1/campaigns/{campaign_id}", headers=caller.headers, json={}).json["name"] == "Renamed"
    wrong = http.put(f"/v1/campaigns/{campaign_id}", headers=caller.headers, json={"should_save_list": "yes"})
    assert (wrong.status_code, wrong.json["code"]) == (400, "api_validation")
    assert "should_save_list" in wrong.json["message"]

    deleted = http.delete(f"/v1/campaigns/{campaign_id}", headers=caller.headers)
    assert (deleted.status_code, deleted.json) == (200, {"id": str(campaign_id)})
    gone = http.get(f"/v1/campaign/{campaign_id}/email", headers=caller.headers)
    assert (gone.status_code, gone.json["code"]) == (404, "not_found")
    bad_id = http.delete("/v1/campaigns/0", headers=caller.headers)
    assert (bad_id.status_code, bad_id.json["code"]) == (400, "api_validation")


@pytest.mark.usefixtures("pipeline")
def test_a_sent_campaign_cannot_be_deleted(http, caller):
    campaign_id = new_campaign(http, caller)
    assert http.post(f"/v1/campaign/{campaign_id}/email/send", headers=caller.headers).status_code == 200
    refused = http.delete(f"/v1/campaigns/{campaign_id}", headers=caller.headers)
    assert (refused.status_code, refused.json["code"]) == (403, "already_sent")
    assert http.get(f"/v1/campaign/{campaign_id}/email", headers=caller.headers).status_code == 200


@pytest.mark.usefixtures("pipeline")
def test_duplicate_answers_campaign_duplicate_meta(http, caller):
    campaign_id = new_campaign(http, caller, recipients=False)
    copy = http.post(f"/v1/campaign/{campaign_id}/email/duplicate", headers=caller.headers,
                     json={"name": "Reminders, again"})
    assert copy.status_code == 201, copy.json
    assert set(copy.json) == {"id", "name", "type", "created_at", "protect"}
    assert (copy.json["name"], copy.json["type"], copy.json["protect"]) == ("Reminders, again", "EMAIL", False)
    details = http.get(f"/v1/campaign/{copy.json['id']}/email", headers=caller.headers).json
    assert details["email_templates"]["subject"] == TEMPLATE["subject"] and details["num_recipients"] == 0
    nameless = http.post(f"/v1/campaign/{campaign_id}/email/duplicate", headers=caller.headers, json={})
    assert (nameless.status_code, nameless.json["code"]) == (400, "api_validation")
    assert '"name"' in nameless.json["message"]

    telegram = http.post("/v1/campaigns", headers=caller.headers, json={"name": "Bot news", "type": "TELEGRAM"}).json
    telegram_copy = http.post(f"/v1/campaign/{telegram['id']}/telegram/duplicate", headers={**caller.headers, **FORM})
    assert (telegram_copy.status_code, telegram_copy.json["name"]) == (201, "Copy of Bot news")
    other_channel = http.post(f"/v1/campaign/{telegram['id']}/sms/duplicate", headers=caller.headers,
                              json={"name": "x"})
    assert (other_channel.status_code, other_channel.json["code"]) == (400, "invalid_parameters")


@pytest.mark.usefixtures("pipeline")
def test_delete_upload_status_clears_a_failed_uploads_error(http, caller):
    campaign_id = new_campaign(http, caller, template=False)
    failed = upload_file(http, caller, campaign_id, TESTDATA / "bad_ragged_row.csv")
    assert "line 3" in failed["csv_error"]
    cleared = http.delete(f"/v1/campaign/{campaign_id}/email/upload/status", headers=caller.headers)
    assert (cleared.status_code, cleared.json) == (200, {"id": str(campaign_id)})
    status = http.get(f"/v1/campaign/{campaign_id}/email/upload/status", headers=caller.headers).json
    assert "csv_error" not in status and status["csv_filename"] == "email_basic.csv" and status["num_recipients"] == 5


@pytest.mark.usefixtures("services")
def test_the_test_email_reaches_the_recipient_on_its_own_queue(http, caller, smtp):
    campaign_id = new_campaign(http, caller)
    base = f"/v1/campaign/{campaign_id}/email/credentials"
    empty = http.post(base, headers=caller.headers, json={})
    assert (empty.status_code, empty.json["code"]) == (400, "invalid_recipient")
    bad = http.post(base, headers=caller.headers, json={"recipient": "not an address"})
    assert (bad.status_code, bad.json["code"]) == (400, "invalid_recipient")
    sent = http.post(base, headers=caller.headers, json={"recipient": "Checker@Agency.gov.sg"})
    assert (sent.status_code, sent.json) == (200, {"message": "OK"})
    [message] = poll(lambda: smtp.to("checker@agency.gov.sg"), bool, "the test email")
    parsed = message.parsed()
    assert parsed["Subject"] == "Your appointment, Tan Ah Kow"
    assert "see you on 2026-12-01 10:00" in parsed.get_body(("html",)).get_content()
    stats = http.get(f"/v1/campaign/{campaign_id}/email/stats", headers=caller.headers).json
    assert (stats["sent"], stats["unsent"], stats["status"]) == (0, 5, "READY")  # not part of the campaign


@pytest.mark.usefixtures("pipeline")
@pytest.mark.parametrize("method, path, kwargs", [
    ("POST", "email/select-list", {"json": {"list_id": 1}}),
    ("POST", "sms/select-list", {"json": {}}),
])
def test_managed_lists_are_refused_plainly(http, caller, method, path, kwargs):
    channel = path.split("/")[0].upper()
    created = http.post("/v1/campaigns", headers=caller.headers, json={"name": "Plain", "type": channel}).json
    before = http.get(f"/v1/campaign/{created['id']}/{channel.lower()}", headers=caller.headers).json
    response = http.open(f"/v1/campaign/{created['id']}/{path}", method=method, headers=caller.headers, **kwargs)
    assert (response.status_code, response.json["code"]) == (400, "invalid_parameters")
    assert "do not exist on this platform" in response.json["message"]
    assert "unchanged" in response.json["message"]
    assert http.get(f"/v1/campaign/{created['id']}/{channel.lower()}", headers=caller.headers).json == before


@pytest.mark.usefixtures("pipeline")
def test_a_campaign_that_is_not_protected_refuses_the_protected_upload(http, caller):
    created = http.post("/v1/campaigns", headers=caller.headers, json={"name": "Plain", "type": "EMAIL"}).json
    base = f"/v1/campaign/{created['id']}/email"
    started = http.get(f"{base}/protect/upload/start", headers=caller.headers,
                       query_string={"mime_type": "text/csv", "part_count": 1})
    assert (started.status_code, started.json["code"]) == (400, "invalid_parameters")
    assert "not password-protected" in started.json["message"]
    completed = http.post(f"{base}/protect/upload/complete", headers=caller.headers,
                          json={"filename": "p.csv", "transaction_id": "t", "part_count": 1, "etags": ['"a"']})
    assert completed.status_code == 400 and "transaction_id" in completed.json["message"]


@pytest.mark.usefixtures("pipeline")
@pytest.mark.parametrize("channel, body, field", [
    ("telegram", {"data": {"rate": "fast"}}, "rate"),
    ("telegram", {"data": {"rate": "10", "scheduledTiming": "soon"}}, "scheduledTiming"),
    ("sms", {"json": {"rate": 5, "scheduledTiming": "31/12/2026"}}, "scheduledTiming"),
])
def test_sms_and_telegram_sends_read_rate_and_scheduled_timing_from_json_or_a_form(http, caller, channel, body,
                                                                                   field):
    created = http.post("/v1/campaigns", headers=caller.headers, json={"name": "Texts", "type": channel.upper()})
    response = http.post(f"/v1/campaign/{created.json['id']}/{channel}/send", headers=caller.headers, **body)
    assert (response.status_code, response.json["code"]) == (400, "api_validation")
    assert field in response.json["message"]


@pytest.mark.usefixtures("pipeline")
def test_a_form_rate_reaches_the_campaign_service(http, caller):
    """A readable form (rate 10, a time in the future) passes the gateway: the campaign service then refuses the
    campaign for what it lacks, a bot, and schedules nothing."""
    created = http.post("/v1/campaigns", headers=caller.headers, json={"name": "Texts", "type": "TELEGRAM"})
    base = f"/v1/campaign/{created.json['id']}/telegram"
    response = http.post(f"{base}/send", headers=caller.headers, data={"rate": "10", "scheduledTiming": in_a(1)})
    assert (response.status_code, response.json["code"]) == (400, "invalid_parameters")
    assert "no template" in response.json["message"]
    assert http.get(base, headers=caller.headers).json["campaign"]["job_queue"] == []

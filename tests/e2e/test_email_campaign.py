"""End to end: every service as its own process, the public API, a real SMTP server started by the test.

An engineer with an API key creates a campaign, sets a template, uploads 1,000 recipients (and a few invalid
addresses) through the presigned URL, sends, and every valid recipient receives exactly one message with their own
values, while the stats add up at every moment and the export lists every recipient.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from html import escape
from pathlib import Path

import pytest

from postman_auth import api_keys
from tests.fakes.smtp import FakeSmtpServer
from tests.support.agencies import officer_of_new_agency
from tests.support.api_client import ApiError, PostmanApi
from tests.support.processes import RunningSystem, assert_stopped_cleanly, start_service, start_system, stop_system

pytestmark = pytest.mark.e2e

VALID = 1000
INVALID = ["not-an-email", "two@@example.gov.sg", "spaces in@example.gov.sg", "nodomain@", "@nolocal.gov.sg"]


def recipients_file() -> bytes:
    rows = ["recipient,name,ref"]
    rows += [f"Person{i}@Example.gov.sg,Person {i} <Tan>,R{i:05d}" for i in range(VALID)]
    rows += [f'"{address}",Invalid,X' for address in INVALID]
    return ("\r\n".join(rows) + "\r\n").encode()


def new_api(system: RunningSystem, database, email: str) -> PostmanApi:
    with database.unit_of_work() as session:
        key = api_keys.create_api_key(session, api_keys.get_or_create_user(session, email), "e2e")
    return PostmanApi(system.gateway_url, key)


def wait_for_logged_checking_counters(api: PostmanApi, campaign_id: int, total: int, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = api.stats(campaign_id)
        assert stats["unsent"] + stats["sent"] + stats["error"] + stats["invalid"] == total, stats
        if stats["status"] == "LOGGED":
            return stats
        time.sleep(0.05)
    raise AssertionError(f"campaign {campaign_id} did not reach LOGGED: {api.stats(campaign_id)}")


_RUNNING: list[RunningSystem] = []  # this module's system now running, if any


@contextmanager
def system_sending_to(stores, work_dir: Path, smtp: FakeSmtpServer) -> Iterator[RunningSystem]:
    """Every service as a process, mailing to ``smtp``; each must stop cleanly on SIGTERM at the end. Never two at once:
    on the session's stores (one database, one vhost) both would consume the same queues, and send each other's
    campaigns to their own fakes."""
    assert not _RUNNING, "another system of this module is still running: the tests are out of file order"
    running = start_system(stores, work_dir, EMAIL_TRANSPORT="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port))
    _RUNNING.append(running)
    yield running
    _RUNNING.remove(running)
    codes = stop_system(running)
    assert_stopped_cleanly(running, codes)


# The module's tests share one system and one SMTP server (starting every service takes seconds): each uses owners
# and campaigns of its own and counts only the messages that arrived while it ran (the tests before it waited for
# theirs to be sent). The test that kills sender-email (and slows the SMTP server down) has a system and an SMTP
# server of its own, and comes first in the file: its system is stopped before the shared one starts.
@pytest.fixture(scope="module")
def smtp() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def system(stores, tmp_path_factory: pytest.TempPathFactory, smtp: FakeSmtpServer) -> Iterator[RunningSystem]:
    with system_sending_to(stores, tmp_path_factory.mktemp("email-campaign"), smtp) as running:
        yield running


@pytest.fixture
def smtp_of_its_own() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer() as server:
        yield server


@pytest.fixture
def system_of_its_own(stores, tmp_path: Path, smtp_of_its_own: FakeSmtpServer) -> Iterator[RunningSystem]:
    with system_sending_to(stores, tmp_path, smtp_of_its_own) as running:
        yield running


def test_no_message_is_lost_when_the_sender_is_killed_mid_campaign(system_of_its_own, smtp_of_its_own, database):
    system, smtp = system_of_its_own, smtp_of_its_own  # it kills a service, and counts every message its fake got
    smtp.slow_down(0.01)
    api = new_api(system, database, "resilient@agency.gov.sg")
    campaign_id = api.create_campaign("Survives a crash")
    api.set_template(campaign_id, "Hello {{ name }}", "<p>{{ ref }}</p>")
    api.upload(campaign_id, recipients_file(), "crash.csv")
    assert not api.wait_for_upload(campaign_id).get("csv_error")
    api.send(campaign_id)

    deadline = time.monotonic() + 60
    while len(smtp.campaign_messages) < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    system.processes["sender-email"].send_signal(signal.SIGKILL)
    system.processes["sender-email"].wait()
    killed_at = len(smtp.campaign_messages)
    assert killed_at < VALID, "the sender finished before it could be killed; slow the SMTP server further"
    start_service(system, "sender-email")

    stats = wait_for_logged_checking_counters(api, campaign_id, VALID + len(INVALID))
    assert stats["sent"] == VALID and stats["unsent"] == 0
    received = Counter(rcpt for message in smtp.campaign_messages for rcpt in message.rcpt_tos)
    assert set(received) == {f"person{i}@example.gov.sg" for i in range(VALID)}, "a recipient was lost"
    duplicates = sum(count - 1 for count in received.values())
    # Only messages handed to SMTP but not yet recorded when the process died can be sent twice.
    assert duplicates <= 200, f"{duplicates} duplicates after one crash"


def test_a_thousand_recipients_each_receive_exactly_their_own_message(system, smtp, database):
    earlier = len(smtp.messages)  # what the module's earlier tests sent (each waited until its campaign was sent)
    api = new_api(system, database, "engineer@agency.gov.sg")
    campaign_id = api.create_campaign("Appointment reminders")
    api.set_template(campaign_id, "Reminder for {{ name }}",
                     "<p>Dear {{ name }},</p><p>Your reference is <b>{{ ref }}</b>.</p>",
                     reply_to="helpdesk@agency.gov.sg")
    api.upload(campaign_id, recipients_file(), "reminders.csv")
    status = api.wait_for_upload(campaign_id)
    assert not status.get("csv_error"), status
    assert status["num_recipients"] == VALID + len(INVALID)
    assert "Person 0 &lt;Tan&gt;" in status["preview"]["body"]

    before = api.stats(campaign_id)
    assert (before["unsent"], before["invalid"], before["sent"]) == (VALID, len(INVALID), 0)

    sent = api.send(campaign_id)
    assert sent["campaign_id"] == campaign_id and len(sent["job_id"]) == 1
    stats = wait_for_logged_checking_counters(api, campaign_id, VALID + len(INVALID))
    assert (stats["sent"], stats["error"], stats["invalid"], stats["unsent"]) == (VALID, 0, len(INVALID), 0)

    messages = [message for message in smtp.messages[earlier:] if not message.owner_notice]
    received = Counter(rcpt for message in messages for rcpt in message.rcpt_tos)
    assert received == Counter({f"person{i}@example.gov.sg": 1 for i in range(VALID)})
    for message in messages:
        parsed = message.parsed()
        i = int(message.rcpt_tos[0].removeprefix("person").split("@")[0])
        assert parsed["To"] == f"person{i}@example.gov.sg"
        assert parsed["Subject"] == f"Reminder for Person {i} <Tan>"
        assert parsed["Reply-To"] == "helpdesk@agency.gov.sg"
        body = parsed.get_body(("html",)).get_content()
        assert f"Dear Person {i} &lt;Tan&gt;," in body and f"<b>R{i:05d}</b>" in body

    export = api.export(campaign_id)
    assert len(export) == VALID + len(INVALID)
    by_status = Counter(row["status"] for row in export)
    assert by_status == Counter({"SENT": VALID, "INVALID": len(INVALID)})
    assert {row["recipient"] for row in export if row["status"] == "INVALID"} >= {"not-an-email", "nodomain@"}

    with pytest.raises(ApiError, match="403"):
        api.send(campaign_id)


def test_each_email_arrives_as_an_official_email_of_its_agency_with_a_text_part(system, smtp, database):
    officer = officer_of_new_agency(database, name='Ministry of <Examples> & "Co"')
    api = new_api(system, database, officer.email)
    campaign_id = api.create_campaign("Themed")
    api.set_template(campaign_id, "Your form, {{ name }}",
                     "<p>Dear {{ name }},</p><p>Please fill in {{ form_link }} by Friday.</p>", show_logo=True)
    api.upload(campaign_id, b"recipient,name,form_link\r\n"
                            b"ann@example.gov.sg,Ann <Tan>,https://form.gov.sg/abc?id=1&x=2\r\n"
                            b"bob@example.gov.sg,Bob,not a link\r\n", "themed.csv")
    preview = api.wait_for_upload(campaign_id)["preview"]
    assert (preview["agencyName"], preview["agencyLogoURI"], preview["showMasthead"]) == (
        officer.agency, officer.logo_uri, True)
    api.send(campaign_id)
    wait_for_logged_checking_counters(api, campaign_id, 2)

    messages = {message.rcpt_tos[0]: message.parsed() for message in smtp.campaign_messages
                if message.rcpt_tos[0] in ("ann@example.gov.sg", "bob@example.gov.sg")}
    ann, bob = messages["ann@example.gov.sg"], messages["bob@example.gov.sg"]
    assert ann.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in ann.iter_parts()] == ["text/plain", "text/html"]
    html, text = ann.get_body(("html",)).get_content(), ann.get_body(("plain",)).get_content()
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")  # canonical CRLF line ends
    text = text.replace("\r\n", "\n")
    escaped_agency = escape(officer.agency)
    assert escaped_agency.startswith("Ministry of &lt;Examples&gt; &amp; &quot;Co&quot;")
    assert "An email from a Singapore Government agency" in html  # the masthead: a .gov.sg owner
    assert f'<img src="{officer.logo_uri}" alt="{escaped_agency}"' in html  # the logo: show_logo
    assert f'font-weight:bold;color:#1a1a1a;">{escaped_agency}</p>' in html  # the footer names the agency
    assert "How to tell that this email is genuine" in html
    assert ('<p>Please fill in <a href="https://form.gov.sg/abc?id=1&amp;x=2">https://form.gov.sg/abc?id=1&amp;x=2'
            "</a> by Friday.</p>") in html  # a link key's value became a link
    assert "Dear Ann &lt;Tan&gt;," in html and officer.agency not in html
    unsubscribe = ann["List-Unsubscribe"].strip("<>")
    assert f"/unsubscribe/{campaign_id}/ann@example.gov.sg?" in unsubscribe
    assert f'<a href="{unsubscribe.replace("&", "&amp;")}" style' in html  # the recipient's own link, in the footer
    assert text.startswith("An email from a Singapore Government agency\n\nDear Ann <Tan>,\n\nPlease fill in "
                           "https://form.gov.sg/abc?id=1&x=2 by Friday.\n\n" + officer.agency + "\n")
    assert text.endswith(f"unsubscribe ({unsubscribe}).\n")
    assert "<p>Please fill in not a link by Friday.</p>" in bob.get_body(("html",)).get_content()


def test_another_users_key_cannot_see_or_send_the_campaign(system, database):
    owner = new_api(system, database, "owner@agency.gov.sg")
    intruder = new_api(system, database, "intruder@other.gov.sg")
    campaign_id = owner.create_campaign("Private")
    for call in (lambda: intruder.stats(campaign_id), lambda: intruder.send(campaign_id),
                 lambda: intruder.export(campaign_id)):
        with pytest.raises(ApiError, match="404"):
            call()
    assert owner.stats(campaign_id)["status"] == "READY"

"""End to end after hand-off, email over SMTP: every service as its own process (sender-email as two replicas), a
real SMTP server started by the test, and the bounce mailbox on a real IMAP server (Debian's Dovecot) that
sender-email reads.

Bounces and complaints travel the way they do without SES: to each message's own VERP return path (the envelope
sender the SMTP server saw), as RFC 3464 reports and RFC 5965 feedback reports dropped into the mailbox. A campaign
whose recipients bounce halts by itself and resumes only when its owner confirms; a complaint keeps the address out of
the next campaign; unsubscribes through the link's page and through one-click keep the owner's next campaign away;
an owner stops a campaign mid-send and resumes it, and every recipient gets exactly one message.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from postman_auth import api_keys
from tests.fakes.smtp import FakeSmtpServer, ReceivedMessage
from tests.support.api_client import ApiError, PostmanApi
from tests.support.imap import ImapServer, dovecot
from tests.support.processes import RunningSystem, assert_stopped_cleanly, start_service, start_system, stop_system

pytestmark = pytest.mark.e2e

BOUNCES = "bounce@bounces.agency.gov.sg"
TESTDATA = Path(__file__).parents[1] / "testdata" / "bounces"
SAMPLE_RETURN_PATH = "bounce+6f1c2a9e-0001@bounces.agency.gov.sg"
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@pytest.fixture(scope="module")
def smtp():
    with FakeSmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def mailbox():
    with dovecot() as server:
        yield server


@pytest.fixture(scope="module")
def system(stores, tmp_path_factory, smtp, mailbox: ImapServer):
    # Batches of 20: with the SMTP server slowed down to a few dozen messages a second, a sender records what it
    # sent every half second, as it does every fraction of a second at full speed.
    # Two sender-email replicas share email.send (and the bounce mailbox): stops and halts must hold in both.
    # Rendered batches of 10 (not 50) for the same reason as the batches of 20: a 300-recipient campaign is spread
    # over both replicas in small parts, as a big one is in parts of 50, so its early bouncing addresses are sent
    # (and bounce) early rather than all by one replica.
    running = start_system(stores, tmp_path_factory.mktemp("after-sending"), EMAIL_TRANSPORT="smtp",
                           SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port), BOUNCE_ADDRESS=BOUNCES,
                           BOUNCE_IMAP_URL=mailbox.url, BOUNCE_IMAP_POLL_SECONDS="1", SENDER_BATCH_SIZE="20",
                           RENDERED_PER_MESSAGE="10")
    start_service(running, "sender-email", replica="2")
    wait_for(lambda: '"queue": "email.send"' in running.logs("sender-email-2", tail=200),
             "the second sender-email replica to consume")
    yield running
    codes = stop_system(running)
    assert_stopped_cleanly(running, codes)


def new_api(system: RunningSystem, database) -> tuple[PostmanApi, str]:
    owner = f"owner-{secrets.token_hex(4)}@agency.gov.sg"
    with database.unit_of_work() as session:
        key = api_keys.create_api_key(session, api_keys.get_or_create_user(session, owner), "e2e")
    return PostmanApi(system.gateway_url, key), owner


def campaign(api: PostmanApi, people: list[str], name: str = "Screening results") -> int:
    campaign_id = api.create_campaign(name)
    api.set_template(campaign_id, "Your results, {{ name }}", "<p>Dear {{ name }}, your results are ready.</p>")
    rows = "recipient,name\n" + "".join(f"{person},{person.split('@')[0]}\n" for person in people)
    api.upload(campaign_id, rows.encode(), "people.csv")
    assert not api.wait_for_upload(campaign_id).get("csv_error")
    return campaign_id


def people(count: int, kind: str = "person") -> list[str]:
    tag = secrets.token_hex(3)
    return [f"{kind}{n}.{tag}@example.com" for n in range(count)]


def received_by(smtp: FakeSmtpServer, addresses: list[str] | set[str]) -> list[ReceivedMessage]:
    wanted = set(addresses)
    return [m for m in smtp.campaign_messages if wanted & set(m.rcpt_tos)]


def wait_for(condition, what: str, timeout: float = 60.0, pause: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError(f"timed out waiting for {what}")


def adds_up(stats: dict, total: int) -> dict:
    assert stats["unsent"] + stats["sent"] + stats["error"] + stats["invalid"] + stats["unsubscribed"] == total, stats
    return stats


def hard_bounce(message: ReceivedMessage) -> bytes:
    """The sample delivery status notification, about this message: to its return path, for its recipient."""
    sample = (TESTDATA / "dsn_hard_bounce.eml").read_bytes()
    return (sample.replace(SAMPLE_RETURN_PATH.encode(), message.mail_from.encode())
            .replace(b"no.such.person@example.gov.sg", message.rcpt_tos[0].encode()))


def complaint(message: ReceivedMessage) -> bytes:
    sample = (TESTDATA / "arf_complaint.eml").read_bytes()
    return (sample.replace(SAMPLE_RETURN_PATH.replace("0001", "0003").encode(), message.mail_from.encode())
            .replace(b"raj.kumar@example.com", message.rcpt_tos[0].encode()))


def test_a_campaign_whose_recipients_bounce_halts_by_itself_and_resumes_only_when_its_owner_confirms(
        system, smtp, mailbox, database):
    api, owner = new_api(system, database)
    bouncing = people(30, "nobody")
    good = people(470)
    # The bouncing addresses come first in the file, among good ones: they are sent (and bounce) early.
    everyone = [address for pair in zip(bouncing, good[:30], strict=True) for address in pair] + good[30:]
    campaign_id = campaign(api, everyone, "Flu vaccination")
    # About 40 messages a second over the two replicas' eight connections: the 500 take over 12 s, well past the
    # few seconds a halt takes (bounce mailbox polled every second, then stats), however fast the machine.
    smtp.slow_down(0.2)
    try:
        api.send(campaign_id)
        bounced: set[str] = set()

        def report_bounces() -> bool:
            for message in received_by(smtp, set(bouncing) - bounced):
                mailbox.append(hard_bounce(message))
                bounced.add(message.rcpt_tos[0])
            return len(bounced) == len(bouncing)

        # Bounces are reported as their messages arrive; the halt they cause may come before the last bouncing
        # address was sent (how many are sent first depends on the machine's speed): either ends the wait.
        wait_for(lambda: report_bounces() or api.stats(campaign_id)["halted"],
                 "every bouncing address to have been sent to, or the campaign to halt", pause=0.1)
        stats = wait_for(lambda: (s := api.stats(campaign_id))["halted"] and s, "the campaign to halt")
    finally:
        smtp.slow_down(0)

    settled, after = _quiet_after(smtp, everyone, 1.5, 2.0)
    stats = adds_up(api.stats(campaign_id), len(everyone))
    details = api.call("GET", f"/v1/campaign/{campaign_id}/email")
    assert stats["status"] == "STOPPED" and stats["unsent"] > 0
    assert after == settled < len(everyone), "messages were still handed to the server a second after the halt"
    assert details["halted"] and "bounced permanently" in details["halt_reason"]
    notice = wait_for(lambda: [m for m in smtp.owner_notices if m.rcpt_tos == (owner,)], "the owner's email")
    assert notice[0].parsed()["Subject"] == "Campaign halted: Flu vaccination"

    with pytest.raises(ApiError, match="confirm_halted"):
        api.call("POST", f"/v1/campaign/{campaign_id}/email/retry")
    wait_for(lambda: _resumed(api, campaign_id, confirm_halted=True), "the confirmed resume to be accepted",
             timeout=20, pause=0.5)
    adds_up(api.wait_for_status(campaign_id, timeout=180), len(everyone))

    received = Counter(rcpt for m in received_by(smtp, everyone) for rcpt in m.rcpt_tos)
    assert {address: received[address] for address in good} == dict.fromkeys(good, 1)
    # Each bouncing address got one message: those that bounced before the halt are suppressed for the resume,
    # the rest (if the halt came first) were sent by it. Their bounces are reported now that it has finished.
    assert all(received[address] == 1 for address in bouncing)
    wait_for(report_bounces, "the bounces of the addresses the resume sent to")
    final = wait_for(lambda: (s := api.stats(campaign_id))["outcomes"]["hard_bounced"] == len(bouncing) and s,
                     "every bounce to be counted")
    assert adds_up(final, len(everyone))["sent"] == len(good)
    rows = {row["recipient"]: row for row in api.export(campaign_id)}
    assert {rows[address]["error_code"] for address in bouncing} == {"hard_bounce"}
    assert {rows[address]["error_sub_type"] for address in bouncing} == {"NoEmail"}


def test_a_complaint_suppresses_the_address_so_that_the_next_campaign_skips_it(system, smtp, mailbox, database):
    api, _ = new_api(system, database)
    list_of = people(5)
    objecting = list_of[2]
    first = campaign(api, list_of)
    api.send(first)
    api.wait_for_status(first)
    [message] = received_by(smtp, [objecting])
    assert message.mail_from.startswith("bounce+") and message.mail_from.endswith("@bounces.agency.gov.sg")

    mailbox.append(complaint(message))
    stats = wait_for(lambda: (s := api.stats(first))["outcomes"]["complained"] == 1 and s, "the complaint counted")
    assert (stats["sent"], stats["invalid"]) == (4, 1)

    other_api, _ = new_api(system, database)  # another agency: a complaint is suppressed for everyone
    second = campaign(other_api, list_of, "Another agency's news")
    other_api.send(second)
    final = adds_up(other_api.wait_for_status(second), 5)
    assert (final["sent"], final["invalid"], final["outcomes"]["blacklisted"]) == (4, 1, 1)
    assert len(received_by(smtp, [objecting])) == 1
    row = next(r for r in other_api.export(second) if r["recipient"] == objecting)
    assert (row["status"], row["error_code"]) == ("BLACKLISTED", "complaint")


def unsubscribe_link(message: ReceivedMessage) -> str:
    header = message.parsed()["List-Unsubscribe"]
    return header.split(",")[0].strip().strip("<>")


def test_unsubscribes_through_the_page_and_one_click_keep_the_owners_next_campaign_away(system, smtp, database):
    api, _ = new_api(system, database)
    list_of = people(4)
    by_page, by_one_click, staying, _ = list_of
    first = campaign(api, list_of)
    api.send(first)
    api.wait_for_status(first)

    page_link = unsubscribe_link(received_by(smtp, [by_page])[0])
    assert urlsplit(page_link).path == f"/unsubscribe/{first}/{by_page}"
    browser = requests.Session()
    page = browser.get(page_link, timeout=10)
    assert page.status_code == 200 and "Unsubscribe from these emails?" in page.text
    done = browser.post(page_link, timeout=10, data={"csrf_token": _CSRF.search(page.text).group(1),
                                                      "action": "unsubscribe", "reason": "not_relevant"})
    assert done.status_code == 200 and "You have unsubscribed" in done.text
    one_click = requests.post(unsubscribe_link(received_by(smtp, [by_one_click])[0]),
                              data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert one_click.status_code == 200

    rows = {row["recipient"]: row for row in api.export(first)}
    assert rows[by_page]["unsubscriber.reason"] == "The emails are not relevant to me"
    assert rows[by_one_click]["unsubscriber.recipient"] == by_one_click and rows[staying]["unsubscriber.recipient"] \
        is None

    second = campaign(api, list_of, "Next month")
    api.send(second)
    final = adds_up(api.wait_for_status(second), 4)
    assert (final["sent"], final["unsubscribed"]) == (2, 2)
    assert len(received_by(smtp, [by_page])) == len(received_by(smtp, [by_one_click])) == 1
    assert len(received_by(smtp, [staying])) == 2


def test_an_owner_stops_a_campaign_mid_send_and_resumes_it_and_everyone_gets_exactly_one_message(
        system, smtp, database):
    api, _ = new_api(system, database)
    list_of = people(400)
    campaign_id = campaign(api, list_of, "Stop and go")
    # 0.15 s per message over two replicas of four connections each: the 400 take about 7.5 s, so the stop, asked
    # once 40 have arrived, finds the send still going even on a loaded machine (at 0.05 s the whole send took about
    # 2.5 s, and once, with the other worker busy, finished before the stop was asked).
    smtp.slow_down(0.15)
    try:
        api.send(campaign_id)
        wait_for(lambda: len(received_by(smtp, list_of)) >= 40, "the campaign under way", pause=0.02)
        stopped = api.call("POST", f"/v1/campaign/{campaign_id}/email/stop")
        settled, after = _quiet_after(smtp, list_of, 1.5, 2.0)
    finally:
        smtp.slow_down(0)

    assert stopped == {"campaign_id": campaign_id, "status": "STOPPED"}
    assert after == settled < len(list_of), "messages were still handed to the server a second after the stop"
    stats = adds_up(api.stats(campaign_id), len(list_of))
    assert stats["status"] == "STOPPED" and stats["unsent"] >= len(list_of) - after
    with pytest.raises(ApiError, match="not sending"):
        api.call("POST", f"/v1/campaign/{campaign_id}/email/stop")

    wait_for(lambda: _resumed(api, campaign_id), "the resume to be accepted (5 s after the stop)", timeout=20,
             pause=0.5)
    final = adds_up(api.wait_for_status(campaign_id, timeout=180), len(list_of))
    received = Counter(rcpt for m in received_by(smtp, list_of) for rcpt in m.rcpt_tos)
    assert received == Counter(dict.fromkeys(list_of, 1)), "a recipient got no message, or two"
    assert (final["sent"], final["unsent"]) == (len(list_of), 0)
    assert all(_sent_by(system, replica, campaign_id) > 0 for replica in ("sender-email", "sender-email-2")), (
        "both replicas should have sent part of the campaign")


def _sent_by(system: RunningSystem, process: str, campaign_id: int) -> int:
    """How many of the campaign's messages one sender-email process says it handed to the SMTP server."""
    entries = (json.loads(line) for line in system.logs(process, tail=100_000).splitlines() if line.startswith("{"))
    return sum(entry.get("sent", 0) for entry in entries
               if entry.get("event") == "batch delivered" and entry.get("campaign_id") == campaign_id)


def _quiet_after(smtp: FakeSmtpServer, addresses: list[str], settle: float, watch: float) -> tuple[int, int]:
    """(messages received ``settle`` seconds after now, and ``watch`` seconds after that): equal when nothing more
    was handed to the server once the stop had had ``settle`` seconds to take effect."""
    time.sleep(settle)
    settled = len(received_by(smtp, addresses))
    time.sleep(watch)
    return settled, len(received_by(smtp, addresses))


def _resumed(api: PostmanApi, campaign_id: int, **body: bool) -> bool:
    try:
        api.call("POST", f"/v1/campaign/{campaign_id}/email/retry", json=body)
    except ApiError as refused:
        assert "still stopping" in str(refused)
        return False
    return True

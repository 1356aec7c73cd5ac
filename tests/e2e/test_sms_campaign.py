"""End to end for SMS: every service as its own process, the public API, the official twilio library in sender-sms
talking to a local Twilio fake that also calls back the gateway with delivery receipts.

An engineer adds Twilio credentials (a real test SMS), uploads 300 phone numbers written every way people write
them, sends at 100 per second; every valid number receives exactly its own message, Twilio's receipts reach the
stats (an undelivered number becomes an error), and killing sender-sms mid-campaign loses nothing.
"""

from __future__ import annotations

import secrets
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from postman_auth import api_keys
from postman_shared.credentials import new_master_key
from tests.fakes.twilio import FakeTwilio
from tests.support.api_client import PostmanApi
from tests.support.processes import RunningSystem, assert_stopped_cleanly, start_service, start_system, stop_system

pytestmark = pytest.mark.e2e

VALID = 300
INVALID = ["12345", "not a number", "+65 1234"]
UNDELIVERED = "+6591230007"
API_KEY, API_SECRET = "SK" + secrets.token_hex(16), secrets.token_hex(16)
ACCOUNT = {"twilio_account_sid": "AC" + secrets.token_hex(16), "twilio_api_key": API_KEY,
           "twilio_api_secret": API_SECRET, "twilio_messaging_service_sid": "MG" + secrets.token_hex(16)}


def number(i: int) -> str:
    return f"+659123{i:04d}"


def written(i: int) -> str:
    """The i-th number as a person might type it: with or without +65, spaces or dashes."""
    local = f"9123{i:04d}"
    return [f"+65 {local[:4]} {local[4:]}", local, f"65-{local}", f"+65{local}"][i % 4]


def recipients_file() -> bytes:
    rows = ["recipient,name"] + [f"{written(i)},Person {i}" for i in range(VALID)] + [f"{n},Nobody" for n in INVALID]
    return ("\n".join(rows) + "\n").encode()


@contextmanager
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(api_key=API_KEY, api_secret=API_SECRET, undelivered={UNDELIVERED}) as fake:
        yield fake


_RUNNING: list[RunningSystem] = []  # this module's system now running, if any


@contextmanager
def system_sending_to(stores, work_dir: Path, twilio: FakeTwilio) -> Iterator[RunningSystem]:
    """Every service as a process, sending SMS through ``twilio``; each must stop cleanly on SIGTERM at the end.
    Never two at once: on the session's stores (one database, one vhost) both would consume the same queues, and send
    each other's campaigns to their own fakes."""
    assert not _RUNNING, "another system of this module is still running: the tests are out of file order"
    running = start_system(stores, work_dir, TWILIO_API_BASE=twilio.base_url, CREDENTIALS_KEY=new_master_key())
    _RUNNING.append(running)
    yield running
    _RUNNING.remove(running)
    codes = stop_system(running)
    assert_stopped_cleanly(running, codes)


# The module's tests share one system and one Twilio fake (starting every service takes seconds): each uses an owner
# and campaigns of its own, counts only the messages sent while it ran (the tests before it waited for theirs to be
# sent), and leaves no number marked as having replied STOP. The test that kills sender-sms has a system and a Twilio
# fake of its own, and comes first in the file: its system is stopped before the shared one starts.
@pytest.fixture(scope="module")
def shared_twilio() -> Iterator[FakeTwilio]:
    with fake_twilio() as fake:
        yield fake


@pytest.fixture
def twilio(shared_twilio: FakeTwilio) -> Iterator[FakeTwilio]:
    yield shared_twilio
    shared_twilio.stopped.clear()  # a STOP reply is one test's scenario: the next test's numbers have not replied


@pytest.fixture(scope="module")
def system(stores, tmp_path_factory: pytest.TempPathFactory, shared_twilio: FakeTwilio) -> Iterator[RunningSystem]:
    with system_sending_to(stores, tmp_path_factory.mktemp("sms-campaign"), shared_twilio) as running:
        yield running


@pytest.fixture
def twilio_of_its_own() -> Iterator[FakeTwilio]:
    with fake_twilio() as fake:
        yield fake


@pytest.fixture
def system_of_its_own(stores, tmp_path: Path, twilio_of_its_own: FakeTwilio) -> Iterator[RunningSystem]:
    with system_sending_to(stores, tmp_path, twilio_of_its_own) as running:
        yield running


def new_api(system: RunningSystem, database, email: str) -> PostmanApi:
    with database.unit_of_work() as session:
        key = api_keys.create_api_key(session, api_keys.get_or_create_user(session, email), "e2e")
    return PostmanApi(system.gateway_url, key)


def ready_campaign(api: PostmanApi, name: str) -> int:
    campaign_id = api.create_campaign(name, channel="SMS")
    api.call("PUT", f"/v1/campaign/{campaign_id}/sms/template",
             json={"body": "Dear {{ name }}, your appointment is tomorrow."})
    api.upload(campaign_id, recipients_file(), "numbers.csv", channel="sms")
    status = api.wait_for_upload(campaign_id, channel="sms")
    assert not status.get("csv_error") and status["num_recipients"] == VALID + len(INVALID), status
    api.call("POST", f"/v1/campaign/{campaign_id}/sms/new-credentials",
             json={**ACCOUNT, "recipient": "+6587654321", "label": f"agency-{secrets.token_hex(3)}"})
    return campaign_id


def campaign_messages(twilio: FakeTwilio, since: int = 0) -> list:
    """The campaigns' messages Twilio took (not the credentials' test SMS), of its requests from the ``since``-th."""
    with twilio.lock:
        requests = twilio.received[since:]
    return [m for m in requests if m.answered == 201 and m.to != "+6587654321"]


def test_no_sms_is_lost_when_the_sender_is_killed_mid_campaign(system_of_its_own, twilio_of_its_own, database):
    system, twilio = system_of_its_own, twilio_of_its_own  # it kills a service, and counts every message its fake got
    api = new_api(system, database, "sms-resilient@agency.gov.sg")
    campaign_id = ready_campaign(api, "Survives a crash")
    api.send(campaign_id, channel="sms", rate=40)

    deadline = time.monotonic() + 60
    while len(campaign_messages(twilio)) < 60 and time.monotonic() < deadline:
        time.sleep(0.01)
    system.processes["sender-sms"].send_signal(signal.SIGKILL)
    system.processes["sender-sms"].wait()
    killed_at = len(campaign_messages(twilio))
    assert killed_at < VALID, "the sender finished before it could be killed; lower the rate"
    start_service(system, "sender-sms")

    stats = api.wait_for_status(campaign_id, channel="sms", timeout=120)
    assert stats["sent"] + stats["error"] == VALID and stats["unsent"] == 0
    received = Counter(m.to for m in campaign_messages(twilio))
    assert set(received) == {number(i) for i in range(VALID)}, "a number was lost"
    duplicates = sum(count - 1 for count in received.values())
    assert duplicates <= 200, f"{duplicates} numbers were sent twice: more than one batch in flight"


def test_every_number_receives_its_own_sms_and_receipts_reach_the_stats(system, twilio, database):
    earlier = len(twilio.received)  # what the module's earlier tests sent (each waited until its campaign was sent)
    api = new_api(system, database, "sms-engineer@agency.gov.sg")
    campaign_id = ready_campaign(api, "SMS reminders")
    sent = api.send(campaign_id, channel="sms", rate=100)
    assert sent["campaign_id"] == campaign_id and len(sent["job_id"]) == 1

    api.wait_for_status(campaign_id, channel="sms", timeout=120)
    messages = campaign_messages(twilio, since=earlier)
    assert Counter(m.to for m in messages) == Counter({number(i): 1 for i in range(VALID)})
    assert all(m.body == f"Dear Person {int(m.to[-4:])}, your appointment is tomorrow." for m in messages)
    assert all(m.status_callback and m.status_callback.startswith(system.env["PUBLIC_URL"]) for m in messages)

    # Twilio's receipts arrive after the send: the undelivered number ends as an error, the others as delivered.
    deadline = time.monotonic() + 60
    stats = api.stats(campaign_id, channel="sms")
    while (stats["error"], stats["outcomes"]["delivered"]) != (1, VALID - 1) and time.monotonic() < deadline:
        time.sleep(0.2)
        stats = api.stats(campaign_id, channel="sms")
    assert (stats["sent"], stats["error"], stats["invalid"], stats["unsent"]) == (VALID - 1, 1, len(INVALID), 0)
    export = {row["recipient"]: row for row in api.export(campaign_id, channel="sms")}
    assert export[UNDELIVERED]["status"] == "ERROR" and export[UNDELIVERED]["error_code"] == "twilio_30003"
    assert export[number(1)]["status"] == "DELIVERED" and export["12345"]["status"] == "INVALID"


def test_a_number_that_replied_stop_is_unsubscribed_and_the_owners_next_campaign_skips_it(system, twilio, database):
    api = new_api(system, database, "sms-stop@agency.gov.sg")
    stopping = number(5)
    twilio.stopped.add(stopping)  # the person replied STOP to the agency's messaging service
    first = ready_campaign(api, "Before STOP")
    api.send(first, channel="sms", rate=200)
    stats = api.wait_for_status(first, channel="sms", timeout=120)
    assert stats["unsubscribed"] == 1
    assert stats["unsent"] + stats["sent"] + stats["error"] + stats["invalid"] + stats["unsubscribed"] == \
        VALID + len(INVALID)
    row = next(r for r in api.export(first, channel="sms") if r["recipient"] == stopping)
    assert (row["status"], row["error_code"]) == ("UNSUBSCRIBED", "sms_stop")

    tried = [r.to for r in twilio.received].count(stopping)
    second = ready_campaign(api, "After STOP")
    api.send(second, channel="sms", rate=200)
    stats = api.wait_for_status(second, channel="sms", timeout=120)
    assert stats["unsubscribed"] == 1
    assert [r.to for r in twilio.received].count(stopping) == tried  # never asked Twilio again

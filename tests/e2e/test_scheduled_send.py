"""End to end: a campaign scheduled a few seconds ahead through the public API goes out exactly once although the
campaign process is killed (SIGKILL) before the time and started again after it; the schedule lives in the database,
not in the process."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from postman_auth import api_keys
from tests.support.api_client import PostmanApi
from tests.support.processes import RunningSystem, _wait_until_ready, start_service

pytestmark = pytest.mark.e2e

RECIPIENTS = 50


def released_in_logs(system: RunningSystem, campaign_id: int) -> int:
    """How many times a campaign process logged releasing this campaign's scheduled send (every run of the
    process appends to the same log file, one JSON object per line)."""
    count = 0
    for line in (system.log_dir / "campaign.log").read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        count += entry.get("event") == "scheduled send released" and entry.get("campaign_id") == campaign_id
    return count


def test_a_scheduled_campaign_goes_out_once_when_the_campaign_process_is_killed_and_restarted(system, smtp,
                                                                                           database):
    with database.unit_of_work() as session:
        key = api_keys.create_api_key(session, api_keys.get_or_create_user(session, "planner@agency.gov.sg"), "e2e")
    api = PostmanApi(system.gateway_url, key)
    campaign_id = api.create_campaign("Tomorrow's reminders")
    api.set_template(campaign_id, "Reminder for {{ name }}", "<p>Dear {{ name }}</p>")
    rows = ["recipient,name"] + [f"person{i}@example.gov.sg,Person {i}" for i in range(RECIPIENTS)]
    api.upload(campaign_id, ("\n".join(rows) + "\n").encode(), "people.csv")
    assert not api.wait_for_upload(campaign_id).get("csv_error")

    when = datetime.now(UTC) + timedelta(seconds=5)
    scheduled = api.call("POST", f"/v1/campaign/{campaign_id}/email/send",
                         data={"scheduledTiming": when.isoformat()})  # form-encoded, as the upstream callers do
    assert len(scheduled["job_id"]) == 1
    assert api.stats(campaign_id)["status"] == "READY"
    system.processes["campaign"].send_signal(signal.SIGKILL)
    system.processes["campaign"].wait()
    assert datetime.now(UTC) < when, "the campaign process was killed too late to test a restart; schedule later"

    time.sleep(max(0.0, (when - datetime.now(UTC)).total_seconds()) + 1)
    assert smtp.messages == []  # due, but no campaign process: nothing released
    start_service(system, "campaign")
    _wait_until_ready(system, 60, {"campaign"})

    stats = api.wait_for_status(campaign_id, "LOGGED", timeout=120)
    assert (stats["sent"], stats["error"], stats["unsent"]) == (RECIPIENTS, 0, 0)
    received = Counter(rcpt for message in smtp.campaign_messages for rcpt in message.rcpt_tos)
    assert received == Counter({f"person{i}@example.gov.sg": 1 for i in range(RECIPIENTS)})
    [job] = api.call("GET", f"/v1/campaign/{campaign_id}/email")["job_queue"]
    assert job["status"] == "LOGGED" and job["scheduled_at"] is not None
    assert released_in_logs(system, campaign_id) == 1

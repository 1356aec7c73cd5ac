"""``postman_jobs{channel, status}``: the campaign service exports how many sends wait, run or stopped, per channel,
read from the database at each scrape, with bounded labels."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY

from postman_campaign.job_metrics import CHANNELS, UNFINISHED
from postman_campaign.models import Job
from postman_shared.timestamps import utcnow
from tests.integration.campaign.support import CampaignApi
from tests.support.inprocess import running


def jobs(channel: str, status: str) -> float | None:
    return REGISTRY.get_sample_value("postman_jobs", {"channel": channel, "status": status})


def test_unfinished_sends_are_counted_by_channel_and_status_at_each_scrape(settings, database):
    with running(settings, "campaign"):
        api = CampaignApi(settings)
        email, sms = api.create("Flu jabs"), api.create("Reminders", channel="SMS")
        before = {(c.lower(), s): jobs(c.lower(), s) for c in CHANNELS for s in UNFINISHED}
        assert all(value is not None for value in before.values()), "every combination is exported, zeros too"
        with database.unit_of_work() as session:
            session.add_all([Job(campaign_id=email, status="SENDING"), Job(campaign_id=email, status="STOPPED"),
                             Job(campaign_id=sms, status="READY", scheduled_at=utcnow() + timedelta(hours=1)),
                             Job(campaign_id=sms, status="LOGGED")])
        after = {(c.lower(), s): jobs(c.lower(), s) for c in CHANNELS for s in UNFINISHED}
    changed = {key: after[key] - before[key] for key in before if after[key] != before[key]}
    assert changed == {("email", "SENDING"): 1, ("email", "STOPPED"): 1, ("sms", "READY"): 1}
    # bounded: nothing but the three channels and the unfinished statuses, whatever the table holds
    labels = {(s.labels["channel"], s.labels["status"]) for m in REGISTRY.collect() if m.name == "postman_jobs"
              for s in m.samples}
    assert labels == {(c.lower(), s) for c in CHANNELS for s in UNFINISHED}

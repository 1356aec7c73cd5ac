"""A redacted campaign through the gateway: its details and stats keep their numbers and say ``redacted``; its export,
preview, retry and the page's CSV downloads answer 410 ``campaign_redacted``; its page says when and why."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from postman_campaign.retention import Retention, purge
from tests.conftest import TESTDATA
from tests.integration.gateway.conftest import upload_file

TEMPLATE = {"subject": "Your appointment, {{name}}", "body": "<p>Dear {{name}}, see you on {{appointment}}.</p>",
            "reply_to": None, "from": "Postman <donotreply@mail.postman.gov.sg>"}


def finished_long_ago(database, campaign_id: int) -> None:
    """The campaign as if sent 40 days ago and finished: a LOGGED job, each valid recipient delivered."""
    with database.unit_of_work() as session:
        job_id = session.scalar(text("INSERT INTO jobs (campaign_id, status, status_updated_at, sent_at) VALUES "
                                     "(:c, 'LOGGED', now() - interval '40 days', now() - interval '40 days') "
                                     "RETURNING id"), {"c": campaign_id})
        session.execute(text("INSERT INTO message_outcomes (recipient_id, campaign_id, job_id, status) "
                             "SELECT id, campaign_id, :j, 'DELIVERED' FROM recipients WHERE campaign_id = :c "
                             "AND valid"), {"c": campaign_id, "j": job_id})
        session.execute(text("INSERT INTO campaign_counters (campaign_id, job_id, sent, delivered, expected, "
                             "logged_at) SELECT :c, :j, count(*), count(*), count(*), now() FROM message_outcomes "
                             "WHERE campaign_id = :c"), {"c": campaign_id, "j": job_id})


@pytest.mark.usefixtures("pipeline")
def test_a_redacted_campaign_keeps_its_counts_and_answers_410_on_recipient_level_routes(http, new_caller, database,
                                                                                       sign_in):
    caller = new_caller()
    campaign_id = http.post("/v1/campaigns", headers=caller.headers, json={"name": "Old", "type": "EMAIL"}).json["id"]
    assert http.put(f"/v1/campaign/{campaign_id}/email/template", headers=caller.headers,
                    json=TEMPLATE).status_code == 200
    upload_file(http, caller, campaign_id, TESTDATA / "email_basic.csv")
    finished_long_ago(database, campaign_id)
    base = f"/v1/campaign/{campaign_id}/email"
    before = http.get(f"{base}/stats", headers=caller.headers).json
    assert before["sent"] == 5 and before["redacted"] is False
    assert http.get(f"{base}/export", headers=caller.headers).status_code == 200

    purge(database, Retention(campaign_days=30, transactional_days=30, audit_days=365, batch_size=2))

    details = http.get(base, headers=caller.headers)
    assert details.status_code == 200 and details.json["redacted"] is True
    assert details.json["num_recipients"] == before_recipients(before)
    after = http.get(f"{base}/stats", headers=caller.headers).json
    assert after == {**before, "redacted": True, "updated_at": after["updated_at"]}
    refreshed = http.post(f"{base}/refresh-stats", headers=caller.headers)
    assert refreshed.status_code == 200 and refreshed.json["sent"] == 5, "no recount to zero"
    for method, path in (("GET", "/export"), ("GET", "/preview"), ("POST", "/retry")):
        answer = http.open(f"{base}{path}", method=method, headers=caller.headers)
        assert (answer.status_code, answer.json["code"]) == (410, "campaign_redacted"), path
    other = new_caller()
    assert http.get(f"{base}/export", headers=other.headers).status_code == 404, "ownership first"

    browser = sign_in(caller.email)
    page = browser.client.get(f"/campaigns/{campaign_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="redacted"' in html and 'id="redacted-at"' in html and "30 days after a campaign finishes" in html
    assert 'id="download-all"' not in html and 'id="downloads-redacted"' in html
    assert browser.client.get(f"/campaigns/{campaign_id}/export/all.csv").status_code == 410


def before_recipients(stats: dict) -> int:
    return stats["unsent"] + stats["sent"] + stats["error"] + stats["invalid"] + stats["unsubscribed"]

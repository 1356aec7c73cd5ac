"""postmanctl purge and erase-recipient against the tests' database.

postmanctl's real entry point runs in the test process (``tests/support/postmanctl.py``: its own environment, argv,
output and logging configuration, as in a process of its own), a second of imports cheaper per call than a
subprocess. ``test_erase_recipient_removes_the_person_and_refuses_what_is_neither_address_nor_number`` runs it as a
real subprocess (``python -m postman_ctl.cli``): the report alone on stdout, exit statuses 0 and 2."""

from __future__ import annotations

import json
import secrets
import subprocess

from sqlalchemy import text

from tests.integration.campaign.test_retention import make_campaign, rows_of
from tests.support.postmanctl import as_subprocess, in_process


def postmanctl(database_url: str, *args: str, real_process: bool = False) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url}
    return as_subprocess(args, env, timeout=120) if real_process else in_process(args, env)


def test_purge_dry_run_reports_and_purge_removes_then_nothing_is_left(stores, database):
    postmanctl(stores.database_url, "purge")  # what other tests left due
    campaign = make_campaign(database, recipients=9)

    counted = postmanctl(stores.database_url, "purge", "--dry-run", "--json")
    assert counted.returncode == 0, counted.stderr
    report = json.loads(counted.stdout)
    assert report["dry_run"] is True and report["campaigns_redacted"] == 1 and report["recipients"] == 9
    assert rows_of(database, campaign.id)["recipients"] == 9

    done = postmanctl(stores.database_url, "purge")
    assert done.returncode == 0, done.stderr
    assert "recipients 9" in done.stdout.splitlines() and "redacting 1 campaigns" in done.stderr
    assert rows_of(database, campaign.id) == {"recipients": 0, "outcomes": 0, "deliveries": 0}
    with database.session() as session:
        assert session.scalar(text("SELECT ip FROM audit_events WHERE action = 'campaign.redacted' AND "
                                   "target_id = :c"), {"c": str(campaign.id)}) == "cli"
    again = json.loads(postmanctl(stores.database_url, "purge", "--dry-run", "--json").stdout)
    assert again["campaigns_redacted"] == 0 and again["recipients"] == 0


def test_erase_recipient_removes_the_person_and_refuses_what_is_neither_address_nor_number(stores, database):
    address = f"erase-cli-{secrets.token_hex(4)}@example.com"
    campaign = make_campaign(database, recipients=4, days_ago=1, address=address)

    erased = postmanctl(stores.database_url, "erase-recipient", address.upper(), "--json", real_process=True)
    assert erased.returncode == 0, erased.stderr
    assert json.loads(erased.stdout)["recipients"] == 1
    assert rows_of(database, campaign.id)["recipients"] == 3
    assert address not in erased.stdout + erased.stderr

    refused = postmanctl(stores.database_url, "erase-recipient", "not a recipient", real_process=True)
    assert refused.returncode == 2 and "neither an email address nor a phone number" in refused.stderr

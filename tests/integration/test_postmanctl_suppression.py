"""postmanctl suppression (list, add, remove, import) against the campaign service running in-process on the test
stores: what support staff do to the suppression list, and what the senders then screen.

postmanctl's real entry point runs in the test process (``tests/support/postmanctl.py``: its own environment, argv,
output and gRPC identity, as in a process of its own), a second of imports cheaper per call than a subprocess.
``test_an_unreachable_campaign_service_exits_1_without_a_traceback`` runs it as a real subprocess
(``python -m postman_ctl.cli``): the exit status and the absence of a traceback of the command itself."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from postman_auth import api_keys
from postman_auth.models import AuditEvent
from postman_shared.db import Database
from postman_shared.settings import Settings
from postman_shared.suppression_client import SuppressionClient
from postman_shared.validators import normalise_phone
from tests.support import service_identity
from tests.support.inprocess import running
from tests.support.postmanctl import as_subprocess, in_process
from tests.support.stores import free_port


def postmanctl(settings: Settings, *args: str, campaign_addr: str | None = None,
               real_process: bool = False) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": settings.database_url,
           "CAMPAIGN_ADDR": campaign_addr or settings.campaign_addr,
           "GRPC_TLS_DIR": str(settings.grpc_tls_dir)}  # postmanctl calls campaign with its own certificate
    return (as_subprocess if real_process else in_process)(["suppression", *args], env)


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    return result


def refused(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The one line the command said on stderr, having exited with ``code``, printed nothing else and no traceback."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    return result.stderr


def address(name: str) -> str:
    return f"{name}.{secrets.token_hex(4)}@example.gov.sg"


def phone_number() -> str:
    """A Singapore mobile number as people write it ("9xxx xxxx"), valid and unused by other tests."""
    while True:
        number = f"9{secrets.randbelow(10**7):07d}"
        if normalise_phone(number, "SG"):
            return f"{number[:4]} {number[4:]}"


@pytest.fixture
def campaign(settings: Settings) -> Iterator[Settings]:
    with running(settings, "campaign"):
        yield settings


@pytest.fixture
def suppressions(campaign: Settings) -> Iterator[SuppressionClient]:
    """The list as a sender screens it (with sender-email's certificate)."""
    with service_identity.acting_as("sender-email"):
        yield SuppressionClient(campaign.campaign_addr)


def officer(database: Database) -> tuple[int, str]:
    with database.unit_of_work() as session:
        user = api_keys.get_or_create_user(session, address("officer"))
        return user.id, user.email


def listed(settings: Settings, *args: str) -> list[dict]:
    return [json.loads(line) for line in ok(postmanctl(settings, "list", "--json", *args)).stdout.splitlines()]


def audit_events(database: Database, action: str, **details: str) -> list[AuditEvent]:
    statement = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    for key, value in details.items():
        statement = statement.where(AuditEvent.details[key].astext == value)
    with database.unit_of_work() as session:  # reads only; its objects stay loaded after it
        return list(session.scalars(statement))


def test_a_global_entry_stops_every_owner_and_is_audited(campaign, suppressions, database):
    bounced = address("bounced")
    result = ok(postmanctl(campaign, "add", f"  {bounced.upper()} ", "--reason", "hard_bounce",
                           "--detail", "mailbox full for a year"))

    assert f"added EMAIL {bounced} (global), reason hard_bounce, as entry" in result.stderr
    assert set(suppressions.screen("EMAIL", [(1, bounced), (2, bounced)])) == {(1, bounced), (2, bounced)}
    [entry] = listed(campaign, "--recipient", bounced)
    assert (entry["scope"], entry["user_id"], entry["reason"], entry["created_by"], entry["detail"]) == (
        "global", 0, "hard_bounce", "support", "mailbox full for a year")
    [event] = audit_events(database, "suppression.added", recipient=bounced)
    assert (event.ip, event.user_id, event.target_type, event.target_id) == ("cli", None, "suppression",
                                                                            str(entry["id"]))
    assert event.details == {"channel": "EMAIL", "recipient": bounced, "scope": "global", "reason": "hard_bounce"}


def test_an_owners_entry_stops_only_that_owners_campaigns(campaign, suppressions, database):
    owner_id, owner_email = officer(database)
    number = phone_number()
    e164 = normalise_phone(number, "SG")

    result = ok(postmanctl(campaign, "add", number, "--channel", "sms", "--reason", "sms_stop",
                           "--owner", owner_email.upper()))

    assert f"added SMS {e164} ({owner_email}), reason sms_stop" in result.stderr
    assert set(suppressions.screen("SMS", [(owner_id, e164), (owner_id + 1, e164)])) == {(owner_id, e164)}
    assert suppressions.screen("TELEGRAM", [(owner_id, e164)]) == {}
    [event] = audit_events(database, "suppression.added", recipient=e164)
    assert event.user_id == owner_id and event.details["scope"] == owner_email


def test_adding_a_recipient_already_on_the_list_keeps_the_first_entry(campaign, database):
    complained = address("complained")
    ok(postmanctl(campaign, "add", complained, "--reason", "complaint"))

    again = ok(postmanctl(campaign, "add", complained, "--reason", "manual", "--detail", "asked by phone"))

    assert f"EMAIL {complained} (global) was already on the list (reason complaint since" in again.stderr
    assert "the first entry is kept" in again.stderr
    [entry] = listed(campaign, "--recipient", complained)
    assert entry["reason"] == "complaint" and entry["detail"] is None
    # Finding the entry already there changed nothing, so the trail holds only the first add.
    assert len(audit_events(database, "suppression.added", recipient=complained)) == 1


def test_list_shows_every_entry_of_a_recipient_newest_first_with_its_scope(campaign, database):
    (_first_id, first_email), (_second_id, second_email) = officer(database), officer(database)
    recipient = address("everywhere")
    ok(postmanctl(campaign, "add", recipient, "--reason", "hard_bounce"))
    ok(postmanctl(campaign, "add", recipient, "--owner", first_email, "--detail", "said so\nin a letter"))
    ok(postmanctl(campaign, "add", recipient, "--owner", second_email, "--reason", "unsubscribe"))

    people = ok(postmanctl(campaign, "list", "--recipient", recipient.upper(), "--channel", "email"))
    lines = [line.split("  ") for line in people.stdout.splitlines()]
    assert [(line[2], line[3], line[4], line[5], line[6]) for line in lines] == [
        ("EMAIL", recipient, second_email, "unsubscribe", "support"),
        ("EMAIL", recipient, first_email, "manual", "support"),
        ("EMAIL", recipient, "global", "hard_bounce", "support")]
    assert lines[0][1].endswith("Z") and lines[1][8] == "said so in a letter"  # one entry, one line
    assert people.stderr == "postmanctl: 3 of 3 entries\n"

    records = listed(campaign, "--recipient", recipient)
    assert [(r["scope"], r["reason"]) for r in records] == [(second_email, "unsubscribe"), (first_email, "manual"),
                                                            ("global", "hard_bounce")]
    assert [r["id"] for r in records] == [int(line[0]) for line in lines]
    assert [r["scope"] for r in listed(campaign, "--recipient", recipient, "--reason", "manual")] == [first_email]
    page = ok(postmanctl(campaign, "list", "--recipient", recipient, "--limit", "1", "--offset", "1"))
    assert len(page.stdout.splitlines()) == 1 and "1 of 3 entries after the first 1" in page.stderr


def test_list_with_an_owner_shows_what_their_suppression_page_shows(campaign, database):
    (owner_id, owner_email), (_other_id, other_email) = officer(database), officer(database)
    theirs, someone_elses, bounced = address("theirs"), address("someone-elses"), address("bounced")
    ok(postmanctl(campaign, "add", theirs, "--owner", owner_email))
    ok(postmanctl(campaign, "add", someone_elses, "--owner", other_email))
    ok(postmanctl(campaign, "add", bounced, "--reason", "hard_bounce"))

    page = listed(campaign, "--owner", owner_email)
    assert [(r["recipient"], r["scope"], r["user_id"], r["can_lift"]) for r in page] == [
        (theirs, owner_email, owner_id, True)]
    # A global entry another agency's message caused is shown when they look its recipient up, without its source.
    [looked_up] = listed(campaign, "--owner", owner_email, "--recipient", bounced)
    assert (looked_up["scope"], looked_up["can_lift"], looked_up["created_by"]) == ("global", False, None)


def test_remove_by_id_lifts_the_entry_and_is_audited(campaign, suppressions, database):
    blocked = address("blocked")
    ok(postmanctl(campaign, "add", blocked))
    [entry] = listed(campaign, "--recipient", blocked)

    result = ok(postmanctl(campaign, "remove", str(entry["id"])))

    assert f"removed entry {entry['id']}: EMAIL {blocked} (global), reason manual" in result.stderr
    assert listed(campaign, "--recipient", blocked) == []
    assert suppressions.screen("EMAIL", [(1, blocked)]) == {}
    [event] = audit_events(database, "suppression.removed", recipient=blocked)
    assert (event.ip, event.target_id, event.details["scope"]) == ("cli", str(entry["id"]), "global")


def test_remove_by_recipient_lifts_the_global_entry_or_with_an_owner_theirs(campaign, suppressions, database):
    owner_id, owner_email = officer(database)
    number = phone_number()
    e164 = normalise_phone(number, "SG")
    ok(postmanctl(campaign, "add", number, "--channel", "SMS"))
    ok(postmanctl(campaign, "add", number, "--channel", "SMS", "--owner", owner_email, "--reason", "sms_stop"))

    ok(postmanctl(campaign, "remove", "--channel", "SMS", "--recipient", e164, "--owner", owner_email))
    assert [r["scope"] for r in listed(campaign, "--recipient", e164)] == ["global"]
    [event] = audit_events(database, "suppression.removed", recipient=e164)
    assert event.user_id == owner_id and event.details == {"channel": "SMS", "recipient": e164,
                                                           "scope": owner_email, "reason": "sms_stop"}

    ok(postmanctl(campaign, "remove", "--channel", "SMS", "--recipient", number))
    assert listed(campaign, "--recipient", e164) == []
    assert suppressions.screen("SMS", [(owner_id, e164)]) == {}


def test_removing_what_is_not_on_the_list_exits_2(campaign, database):
    _owner_id, owner_email = officer(database)
    nowhere = address("nowhere")
    ok(postmanctl(campaign, "add", nowhere))  # global: the owner has no entry of their own

    assert "there is no suppression entry 999999999999" in refused(postmanctl(campaign, "remove", "999999999999"))
    assert f"EMAIL {nowhere} is not on the list ({owner_email})" in refused(
        postmanctl(campaign, "remove", "--channel", "EMAIL", "--recipient", nowhere, "--owner", owner_email))
    assert [r["scope"] for r in listed(campaign, "--recipient", nowhere)] == ["global"]
    assert audit_events(database, "suppression.removed", recipient=nowhere) == []


def test_import_adds_each_recipient_of_a_file_with_a_bom_and_a_header_once(campaign, suppressions, database,
                                                                           tmp_path: Path):
    owner_id, owner_email = officer(database)
    first, second, already = address("first"), address("second"), address("already")
    ok(postmanctl(campaign, "add", already, "--owner", owner_email))
    csv_file = tmp_path / f"opt-outs-{secrets.token_hex(4)}.csv"
    csv_file.write_bytes(("\ufeffEmail,name\r\n"
                          f"{first},First\r\n"
                          "\r\n"
                          f"{second.upper()},Second\r\n"
                          f"  {first} ,First again\r\n"
                          f"{already},Already\r\n").encode())

    result = ok(postmanctl(campaign, "import", str(csv_file), "--owner", owner_email, "--detail", "letter 12"))

    assert f"2 added, 1 already on the list ({owner_email}; 4 row(s), 1 duplicate(s) within the file)" in result.stderr
    screened = suppressions.screen("EMAIL", [(owner_id, first), (owner_id, second), (owner_id + 1, first)])
    assert set(screened) == {(owner_id, first), (owner_id, second)}
    assert [r["detail"] for r in listed(campaign, "--recipient", second)] == ["letter 12"]
    [event] = audit_events(database, "suppression.imported", file=csv_file.name)
    assert event.user_id == owner_id and event.ip == "cli" and event.details == {
        "file": csv_file.name, "channel": "EMAIL", "scope": owner_email, "reason": "manual", "rows": 4,
        "recipients": 3, "added": 2, "already": 1, "complete": True}


def test_a_large_import_is_added_in_batches_of_500(campaign, tmp_path: Path):
    token = secrets.token_hex(4)
    csv_file = tmp_path / "bounces.csv"
    csv_file.write_text("".join(f"bounce-{token}-{n}@example.gov.sg\n" for n in range(1201)))

    result = ok(postmanctl(campaign, "import", str(csv_file), "--reason", "hard_bounce"))

    assert "1201 added, 0 already on the list (global; 1201 row(s), 0 duplicate(s) within the file)" in result.stderr
    assert ok(postmanctl(campaign, "list", "--recipient", f"bounce-{token}-1200@example.gov.sg")).stdout != ""


def test_an_import_with_invalid_lines_names_each_and_adds_nothing(campaign, database, tmp_path: Path):
    good = address("good")
    csv_file = tmp_path / "mixed.csv"
    csv_file.write_text(f"email\n{good}\nnot-an-email\n,no recipient here\n{address('fine')}\nrecipient\n")

    errors = refused(postmanctl(campaign, "import", str(csv_file)))

    assert "line 3: 'not-an-email' is not a valid email address" in errors
    assert "line 4: the first column, the recipient, is empty" in errors
    assert "line 6: 'recipient' is not a valid email address" in errors  # only the first row may be a header
    assert "line 2" not in errors and "3 invalid row(s)" in errors and "nothing was added" in errors
    assert listed(campaign, "--recipient", good) == []
    assert audit_events(database, "suppression.imported", file=csv_file.name) == []

    numbers = tmp_path / "numbers.csv"
    numbers.write_text(f"phone\n{phone_number()}\n12345\n")
    assert "line 3: '12345' is not a valid phone number" in refused(
        postmanctl(campaign, "import", str(numbers), "--channel", "SMS"))


def test_a_dry_run_says_what_an_import_would_do_and_adds_nothing(campaign, database, tmp_path: Path):
    _owner_id, owner_email = officer(database)
    new, on_the_list, owners = address("new"), address("on-the-list"), address("owners")
    ok(postmanctl(campaign, "add", on_the_list))
    ok(postmanctl(campaign, "add", owners, "--owner", owner_email))
    csv_file = tmp_path / "dry.csv"
    csv_file.write_text(f"{new}\n{on_the_list}\n{owners}\n")

    global_run = ok(postmanctl(campaign, "import", str(csv_file), "--dry-run"))
    owner_run = ok(postmanctl(campaign, "import", str(csv_file), "--dry-run", "--owner", owner_email))

    assert "dry run (global): 2 would be added, 1 already on the list" in global_run.stderr
    # The owner's own entries count, not the global one: the import would add the owner's entry beside it.
    assert f"dry run ({owner_email}): 2 would be added, 1 already on the list" in owner_run.stderr
    assert "nothing was added" in owner_run.stderr
    assert listed(campaign, "--recipient", new) == []
    assert audit_events(database, "suppression.imported", file=csv_file.name) == []


@pytest.mark.parametrize("args", [
    ("add", "someone@example.gov.sg", "--owner", "{unknown}"),
    ("list", "--owner", "{unknown}"),
    ("remove", "--channel", "EMAIL", "--recipient", "someone@example.gov.sg", "--owner", "{unknown}"),
])
def test_an_unknown_owner_is_refused_with_exit_code_2(campaign, args):
    unknown = address("nobody")
    errors = refused(postmanctl(campaign, *(arg.format(unknown=unknown) for arg in args)))
    assert f"There is no user with the email address {unknown!r}" in errors


@pytest.mark.parametrize("args,expected", [
    (("add", "not-an-email"), "'not-an-email' is not a valid email address"),
    (("add", "123", "--channel", "SMS"), "'123' is not a valid phone number"),
    (("remove",), "give the id of an entry (see postmanctl suppression list) or --channel and --recipient"),
    (("remove", "5", "--channel", "EMAIL", "--recipient", "a@example.gov.sg"), "not both"),
    (("remove", "--recipient", "a@example.gov.sg"), "--channel and --recipient are both needed"),
    (("import", "/nonexistent/opt-outs.csv"), "cannot read /nonexistent/opt-outs.csv: No such file or directory"),
    (("list", "--limit", "1001"), "expected a whole number from 1 to 1000"),
])
def test_bad_input_is_one_clear_line_before_anything_is_asked_of_the_service(settings, args, expected):
    # No campaign service is running: input is checked first.
    assert expected in refused(postmanctl(settings, *args))


def test_a_file_that_is_not_utf8_is_refused_with_its_line(settings, tmp_path: Path):
    csv_file = tmp_path / "latin1.csv"
    csv_file.write_bytes("email\nok@example.gov.sg\nrené@exämple.gov.sg\n".encode("latin-1"))
    assert "is not UTF-8 text (line 3)" in refused(postmanctl(settings, "import", str(csv_file)))


def test_an_unreachable_campaign_service_exits_1_without_a_traceback(settings, database, tmp_path: Path):
    nobody_listens = f"127.0.0.1:{free_port()}"
    unreachable = f"the campaign service at {nobody_listens} cannot be reached"
    csv_file = tmp_path / "one.csv"
    csv_file.write_text(f"{address('one')}\n")

    assert unreachable in refused(postmanctl(settings, "list", campaign_addr=nobody_listens, real_process=True), code=1)
    assert unreachable in refused(postmanctl(settings, "import", str(csv_file), campaign_addr=nobody_listens,
                                             real_process=True), code=1)
    assert audit_events(database, "suppression.imported", file=csv_file.name) == []

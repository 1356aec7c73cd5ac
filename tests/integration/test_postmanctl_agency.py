"""postmanctl agency (add, list, set-logo, add-domain) against the test database, and what auth's GetAgency then says
about officers: the agency of the longest domain their address is in.

postmanctl's real entry point runs in the test process (``tests/support/postmanctl.py``: its own environment, argv
and output, as in a process of its own), a second of imports cheaper per call than a subprocess. In
``test_a_name_or_a_domain_that_is_taken_is_refused`` the refusals run as a real subprocess (``python -m
postman_ctl.cli``): exit status 2, one line on stderr and no traceback from the command itself."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from postman.v1 import auth_pb2, auth_pb2_grpc
from postman_auth import api_keys
from postman_auth.models import AuditEvent
from postman_shared.db import Database
from postman_shared.grpc import client
from postman_shared.settings import Settings
from tests.support import service_identity
from tests.support.inprocess import running
from tests.support.postmanctl import as_subprocess, in_process

LOGO = "https://www.moh.example.gov.sg/logo.png"


def postmanctl(settings: Settings, *args: str, real_process: bool = False,
               **env: str) -> subprocess.CompletedProcess[str]:
    return (as_subprocess if real_process else in_process)(
        ["agency", *args], {"PATH": "/usr/bin:/bin", "DATABASE_URL": settings.database_url, **env})


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    return result


def refused(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    return result.stderr


@pytest.fixture
def auth(settings: Settings) -> Iterator[auth_pb2_grpc.AuthServiceStub]:
    settings = replace(settings, default_agency_name="The Default Agency", email_masthead_domains=".gov.sg;@gov.sg")
    with running(settings, "auth"):
        yield service_identity.stub(settings.auth_addr, auth_pb2_grpc.AuthServiceStub)


def agency_of(auth: auth_pb2_grpc.AuthServiceStub, database: Database, email: str) -> auth_pb2.Agency:
    with database.unit_of_work() as session:
        user_id = api_keys.get_or_create_user(session, email).id
    return client.call(auth.GetAgency, auth_pb2.GetAgencyRequest(user_id=user_id))


def listed(settings: Settings) -> dict[str, dict]:
    rows = [json.loads(line) for line in ok(postmanctl(settings, "list", "--json")).stdout.splitlines()]
    return {row["name"]: row for row in rows}


def test_officers_belong_to_the_agency_of_the_longest_domain_their_address_is_in(settings, auth, database):
    token = secrets.token_hex(4)
    government, health = f"Government {token}", f"Ministry of Health {token}"
    parent, child = f"g{token}.gov.sg", f"moh.g{token}.gov.sg"
    ok(postmanctl(settings, "add", government, "--domain", parent))
    added = ok(postmanctl(settings, "add", health, "--logo", LOGO, "--domain", child.upper()))
    assert f"agency '{health}' added with the domain(s) {child.upper()}" in added.stderr

    assert agency_of(auth, database, f"nurse@clinic.{child}") == auth_pb2.Agency(
        name=health, logo_uri=LOGO, known=True, masthead=True)
    assert agency_of(auth, database, f"clerk@{parent}").name == government
    assert agency_of(auth, database, f"clerk@{parent}").logo_uri == ""
    assert agency_of(auth, database, f"someone@x{token}.example.com") == auth_pb2.Agency(
        name="The Default Agency", known=False, masthead=False)
    unknown = client.call(auth.GetAgency, auth_pb2.GetAgencyRequest(user_id=2**62))
    assert (unknown.name, unknown.known, unknown.masthead) == ("The Default Agency", False, False)

    assert listed(settings)[health] == {"id": listed(settings)[health]["id"], "name": health, "logo_uri": LOGO,
                                        "domains": [child]}


def test_a_logo_can_be_changed_and_removed_and_a_domain_added(settings, auth, database):
    token = secrets.token_hex(4)
    name, domain, second = f"Agency {token}", f"a{token}.gov.sg", f"b{token}.gov.sg"
    ok(postmanctl(settings, "add", name, "--domain", domain))
    assert agency_of(auth, database, f"x@{domain}").logo_uri == ""

    assert "now shows the logo" in ok(postmanctl(settings, "set-logo", name.upper(), LOGO)).stderr
    assert f"{second} now belongs to" in ok(postmanctl(settings, "add-domain", name, f"@{second}")).stderr
    assert "already belongs to" in ok(postmanctl(settings, "add-domain", name, second)).stderr
    # GetAgency answers from the database each time: no restart, no cache in auth.
    assert agency_of(auth, database, f"y@{second}").logo_uri == LOGO
    assert listed(settings)[name]["domains"] == sorted([domain, second])

    assert "has no logo now" in ok(postmanctl(settings, "set-logo", name, "")).stderr
    assert agency_of(auth, database, f"x@{domain}").logo_uri == ""
    with database.session() as session:
        actions = [(e.action, e.ip, e.details) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.target_type == "agency").order_by(AuditEvent.id))
            if (e.details or {}).get("name") == name]
    assert [a for a, _ip, _d in actions] == ["agency.added", "agency.domain_added", "agency.logo_set",
                                            "agency.domain_added", "agency.logo_set"]
    assert {ip for _a, ip, _d in actions} == {"cli"}


@pytest.mark.parametrize(("args", "words"), [
    (["add", "X {token}", "--logo", "http://insecure.example/logo.png"], "must be an https:// URL"),
    (["add", "X {token}", "--logo", "javascript:alert(1)"], "must be an https:// URL"),
    (["add", "X {token}", "--logo", 'https://x.example/a"onerror="b.png'], "no spaces or quotes"),
    (["add", "X {token}", "--domain", "not a domain"], "is not an email domain"),
    (["add", "   "], "1 to 255 characters"),
    (["set-logo", "No such agency {token}", LOGO], "There is no agency called"),
    (["add-domain", "No such agency {token}", "x.gov.sg"], "There is no agency called"),
])
def test_bad_input_is_refused_with_the_reason_and_changes_nothing(settings, args, words):
    token = secrets.token_hex(4)
    message = refused(postmanctl(settings, *[arg.format(token=token) for arg in args]))
    assert words in message
    assert f"X {token}" not in listed(settings)


def test_a_name_or_a_domain_that_is_taken_is_refused(settings):
    token = secrets.token_hex(4)
    first, second, domain = f"First {token}", f"Second {token}", f"c{token}.gov.sg"
    ok(postmanctl(settings, "add", first, "--domain", domain))
    assert "already an agency called" in refused(postmanctl(settings, "add", first.lower(), real_process=True))
    ok(postmanctl(settings, "add", second))
    assert f"belongs to '{first}' already" in refused(postmanctl(settings, "add-domain", second, domain,
                                                                 real_process=True))
    # A failed add adds nothing: not the agency, not its other domains.
    assert "belongs to" in refused(postmanctl(settings, "add", f"Third {token}", "--domain", f"d{token}.gov.sg",
                                              "--domain", domain, real_process=True))
    agencies = listed(settings)
    assert f"Third {token}" not in agencies and agencies[second]["domains"] == []


def test_the_list_says_which_name_officers_of_no_agency_get(settings):
    result = ok(postmanctl(settings, "list", DEFAULT_AGENCY_NAME="Postman Test Default"))
    assert "'Postman Test Default' (DEFAULT_AGENCY_NAME)" in result.stderr

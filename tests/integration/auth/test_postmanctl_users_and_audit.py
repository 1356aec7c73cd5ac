"""postmanctl disable-user, enable-user, set-rate-limit, audit and create-api-key.

postmanctl's real entry point runs in the test process (``tests/support/postmanctl.py``: its own environment, argv,
output and gRPC identity, as in a process of its own), a second of imports cheaper per call than a subprocess.
``test_postmanctl_errors_are_one_clear_line_without_a_traceback`` runs two of its cases as a real subprocess
(``python -m postman_ctl.cli``): a refusal by argparse and one by the command, each exit status 2 without a
traceback from the command itself."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import select

from postman.v1 import auth_pb2
from postman_auth import api_keys
from postman_auth.models import ApiKey, AuditEvent, User
from postman_shared.grpc.errors import ServiceError
from postman_shared.timestamps import utcnow
from tests.integration.auth.conftest import IP, new_address
from tests.support.inprocess import running
from tests.support.postmanctl import as_subprocess, in_process


def postmanctl(stores, *args: str, real_process: bool = False, **more_env: str) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": stores.database_url, "PATH": "/usr/bin:/bin", **more_env}
    return (as_subprocess if real_process else in_process)(args, env)


def refused(call, *args) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args)
    return caught.value


def test_disabling_a_user_ends_their_sessions_and_keys_at_once_and_blocks_sign_in(stores, auth, database, settings):
    login = auth.sign_in()
    address = login.user.email
    key = auth.call("CreateApiKey", auth_pb2.CreateApiKeyRequest(user_id=login.user.id, label="ci", ip=IP)).api_key
    with running(settings, "campaign"):  # disabling also stops the user's campaigns (tests/security/test_accounts.py)
        result = postmanctl(stores, "disable-user", address.upper(), CAMPAIGN_ADDR=settings.campaign_addr,
                            GRPC_TLS_DIR=str(settings.grpc_tls_dir))
    assert result.returncode == 0, result.stderr
    assert "1 session(s) ended" in result.stderr and "no scheduled or sending campaigns" in result.stderr
    session_error = refused(auth.call, "ResolveSession",
                            auth_pb2.ResolveSessionRequest(session_token=login.session_token))
    key_error = refused(auth.call, "Authenticate", auth_pb2.AuthenticateRequest(api_key=key))
    assert session_error.code == key_error.code == "unathenticated"
    sign_in_error = refused(auth.login, address, auth.request_otp(address))
    assert sign_in_error.code == "unathenticated" and "disabled" in sign_in_error.message

    no_new_key = postmanctl(stores, "create-api-key", address)
    assert no_new_key.returncode == 2 and "is disabled" in no_new_key.stderr and no_new_key.stdout == ""

    assert postmanctl(stores, "enable-user", address).returncode == 0
    assert auth.call("Authenticate", auth_pb2.AuthenticateRequest(api_key=key)).user_id == login.user.id
    # Sessions ended by disabling stay ended: enabling lets the person sign in again, it does not revive them.
    assert refused(auth.call, "ResolveSession",
                   auth_pb2.ResolveSessionRequest(session_token=login.session_token)).code == "unathenticated"
    with database.unit_of_work() as session:
        actions = [(e.action, e.ip, (e.details or {}).get("reason")) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.user_id == login.user.id).order_by(AuditEvent.id))]
    assert ("user.disabled", "cli", None) in actions and ("user.enabled", "cli", None) in actions
    assert ("auth.login_failed", IP, "disabled") in actions


def test_set_rate_limit_changes_what_authenticate_reports(stores, auth, database):
    login = auth.sign_in()
    key = auth.call("CreateApiKey", auth_pb2.CreateApiKeyRequest(user_id=login.user.id, label="ci", ip=IP)).api_key
    result = postmanctl(stores, "set-rate-limit", login.user.email, "25")
    assert result.returncode == 0 and "25 messages per second" in result.stderr
    assert auth.call("Authenticate", auth_pb2.AuthenticateRequest(api_key=key)).rate_limit == 25
    with database.unit_of_work() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.user_id == login.user.id,
                                                         AuditEvent.action == "user.rate_limit_set")).one()
    assert event.details == {"from": login.user.rate_limit, "to": 25} and event.ip == "cli"


@pytest.mark.parametrize("args,expected,real_process", [
    (("disable-user", "nobody@tech.gov.sg"), "There is no user with the email address 'nobody@tech.gov.sg'", True),
    (("enable-user", "nobody@tech.gov.sg"), "There is no user with the email address 'nobody@tech.gov.sg'", False),
    (("set-rate-limit", "nobody@tech.gov.sg", "5"), "There is no user with the email address", False),
    (("set-rate-limit", "nobody@tech.gov.sg", "0"), "expected a whole number of at least 1", True),
    (("audit", "--since", "yesterday"), "expected an ISO date or time", False),
    (("audit", "--limit", "-3"), "expected a whole number from 1 to 10000", False),
    (("create-api-key", "someone@tech.gov.sg", "--label", " "), "needs a label of 1 to 100 characters", False),
])
def test_postmanctl_errors_are_one_clear_line_without_a_traceback(stores, args, expected, real_process):
    result = postmanctl(stores, *args, real_process=real_process)
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_create_api_key_expires_after_the_default_lifetime_and_is_audited(stores, database):
    address = new_address()
    key = postmanctl(stores, "create-api-key", address, "--label", "ci").stdout.strip()
    with database.unit_of_work() as session:
        found = api_keys.authenticate(session, key)
        row = session.get(ApiKey, found.api_key_id)
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "api_key.created",
                                                         AuditEvent.user_id == found.user_id)).one()
    assert row.expires_at - row.created_at == timedelta(days=180)
    assert event.ip == "cli" and event.target_id == str(row.id) and key not in json.dumps(event.details)
    longer = postmanctl(stores, "create-api-key", address, "--label", "long", "--days", "365").stdout.strip()
    with database.unit_of_work() as session:
        row = session.get(ApiKey, api_keys.authenticate(session, longer).api_key_id)
    assert row.expires_at - row.created_at == timedelta(days=365)


def test_audit_prints_the_trail_newest_first_filtered_by_user_and_action(stores, auth, database):
    address = new_address()
    password = auth.request_otp(address)
    refused(auth.login, address, "AAAAAA" if password != "AAAAAA" else "CCCCCC")
    login = auth.login(address, password)
    auth.call("Logout", auth_pb2.LogoutRequest(session_token=login.session_token, ip=IP))

    lines = postmanctl(stores, "audit", "--user", address).stdout.splitlines()
    assert [line.split("  ")[2] for line in lines] == [
        "auth.logout", "auth.login", "auth.login_failed", "auth.otp_requested"]
    assert all(address in line and IP in line for line in lines)
    assert "  session:" in lines[1] and lines[2].endswith('{"reason":"wrong"}')

    records = [json.loads(line) for line in postmanctl(stores, "audit", "--user", address.upper(), "--action",
                                                       "auth.login", "--json").stdout.splitlines()]
    assert len(records) == 1
    assert records[0]["email"] == address and records[0]["user_id"] == login.user.id
    assert records[0]["ip"] == IP and records[0]["target_type"] == "session" and records[0]["at"].endswith("Z")

    assert len(postmanctl(stores, "audit", "--user", address, "--limit", "2").stdout.splitlines()) == 2
    future = (utcnow() + timedelta(days=1)).date().isoformat()
    quiet = postmanctl(stores, "audit", "--user", address, "--since", future)
    assert quiet.returncode == 0 and quiet.stdout == "" and "no audit events match" in quiet.stderr


def test_create_user_gives_a_new_user_the_default_send_rate_limit(stores, database):
    address = new_address()
    assert postmanctl(stores, "create-user", address).returncode == 0
    with database.unit_of_work() as session:
        assert session.scalars(select(User.rate_limit).where(User.email == address)).one() == 10

"""API keys against the real database: shown once, stored as a hash, revocable, expiring."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from postman.v1 import auth_pb2, auth_pb2_grpc
from postman_auth import api_keys
from postman_auth.models import ApiKey
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError
from tests.support import service_identity
from tests.support.inprocess import running


def _new_key(database, email="officer@agency.gov.sg", **kwargs):
    with database.unit_of_work() as session:
        user = api_keys.get_or_create_user(session, email)
        return user.id, api_keys.create_api_key(session, user, "test", **kwargs)


def test_a_key_is_stored_only_as_its_hash_and_authenticates_its_user(database):
    user_id, key = _new_key(database)
    with database.unit_of_work() as session:
        stored = session.scalars(select(ApiKey).where(ApiKey.user_id == user_id)).all()
        assert all(key not in (row.key_hash, row.label) for row in stored)
        assert any(row.key_hash == api_keys.hash_key(key) and row.last_five == key[-5:] for row in stored)
        found = api_keys.authenticate(session, key)
    assert found is not None and found.user_id == user_id


def test_unknown_malformed_revoked_and_expired_keys_are_refused(database):
    _user_id, key = _new_key(database, "revoked@agency.gov.sg")
    _other, expiring = _new_key(database, "expiring@agency.gov.sg", valid_for=timedelta(days=1))
    with database.unit_of_work() as session:
        assert api_keys.authenticate(session, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
        assert api_keys.authenticate(session, "not-a-key") is None
        assert api_keys.authenticate(session, expiring, now=datetime.now(UTC) + timedelta(days=2)) is None
        assert api_keys.authenticate(session, expiring) is not None
        session.execute(update(ApiKey).where(ApiKey.key_hash == api_keys.hash_key(key))
                        .values(revoked_at=datetime.now(UTC)))
    with database.unit_of_work() as session:
        assert api_keys.authenticate(session, key) is None


def test_authenticate_records_last_use(database):
    _user_id, key = _new_key(database, "lastused@agency.gov.sg")
    with database.unit_of_work() as session:
        api_keys.authenticate(session, key)
    with database.unit_of_work() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.key_hash == api_keys.hash_key(key))).one()
    assert row.last_used_at is not None


def test_auth_service_answers_over_grpc(settings, database):
    user_id, key = _new_key(database, "grpc@agency.gov.sg")
    with running(settings, "auth"):
        stub = service_identity.stub(settings.auth_addr, auth_pb2_grpc.AuthServiceStub)
        reply = client.call(stub.Authenticate, auth_pb2.AuthenticateRequest(api_key=key))
        assert reply.user_id == user_id and reply.email == "grpc@agency.gov.sg"
        try:
            client.call(stub.Authenticate, auth_pb2.AuthenticateRequest(api_key="live_v1_" + "x" * 40))
            raise AssertionError("a wrong key was accepted")
        except ServiceError as error:
            assert error.code == "unathenticated" and error.http_status == 401


def test_postmanctl_create_api_key_prints_only_a_working_key(stores, database):
    env = {"DATABASE_URL": stores.database_url, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "postman_ctl.cli", "create-api-key", "NewOfficer@Agency.gov.sg", "--label", "ci"],
        capture_output=True, text=True, env=env, check=True,
    )
    key = result.stdout.strip()
    assert "\n" not in key and key.startswith("live_v1_")
    with database.unit_of_work() as session:
        found = api_keys.authenticate(session, key)
    assert found is not None and found.email == "newofficer@agency.gov.sg"


def test_postmanctl_explains_a_bad_email_without_a_traceback(stores):
    env = {"DATABASE_URL": stores.database_url, "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "postman_ctl.cli", "create-user", "not-an-address"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "is not an email address" in result.stderr and "Traceback" not in result.stderr


def test_grpc_calls_are_counted_for_prometheus_by_method_and_outcome(settings, database):
    from prometheus_client import REGISTRY

    method = "/postman.v1.AuthService/Authenticate"

    def count(code: str) -> float:
        return REGISTRY.get_sample_value("postman_grpc_requests_total", {"method": method, "code": code}) or 0.0

    _user_id, key = _new_key(database, "metrics@agency.gov.sg")
    ok_before, refused_before = count("ok"), count("unathenticated")
    with running(settings, "auth"):
        stub = service_identity.stub(settings.auth_addr, auth_pb2_grpc.AuthServiceStub)
        client.call(stub.Authenticate, auth_pb2.AuthenticateRequest(api_key=key))
        try:
            client.call(stub.Authenticate, auth_pb2.AuthenticateRequest(api_key="nope"))
        except ServiceError:
            pass
    assert count("ok") == ok_before + 1
    assert count("unathenticated") == refused_before + 1

"""API keys of a signed-in user over gRPC: shown once, listed without the secret, revoked at once, never logged."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from postman.v1 import auth_pb2, auth_pb2_grpc
from postman_auth import api_keys
from postman_auth.models import ApiKey, AuditEvent
from postman_shared.grpc.errors import ServiceError
from postman_shared.settings import Settings
from postman_shared.timestamps import utcnow
from tests.integration.auth.conftest import IP, Auth
from tests.support import service_identity
from tests.support.processes import start_services, stop_system

LOG_LEVEL = "DEBUG"  # the most the service can be made to log


def create(auth, user_id: int, label: str = "reporting system") -> auth_pb2.CreatedApiKey:
    return auth.call("CreateApiKey", auth_pb2.CreateApiKeyRequest(user_id=user_id, label=label, ip=IP))


def authenticate(auth, key: str) -> auth_pb2.AuthenticateResponse:
    return auth.call("Authenticate", auth_pb2.AuthenticateRequest(api_key=key))


def refused(call, *args) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args)
    return caught.value


def test_a_new_key_is_returned_once_expires_after_180_days_and_authenticates(auth, database):
    user = auth.sign_in().user
    created = create(auth, user.id, "  reporting system  ")
    assert created.api_key.startswith("live_v1_") and created.key.last_five == created.api_key[-5:]
    assert created.key.label == "reporting system"
    lifetime = created.key.expires_at.ToDatetime() - created.key.created_at.ToDatetime()
    assert lifetime == timedelta(days=180)
    found = authenticate(auth, created.api_key)
    assert (found.user_id, found.api_key_id, found.rate_limit) == (user.id, created.key.id, user.rate_limit)
    with database.unit_of_work() as session:
        row = session.get(ApiKey, created.key.id)
        assert row.key_hash == api_keys.hash_key(created.api_key)
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "api_key.created",
                                                         AuditEvent.target_id == str(row.id))).one()
    assert event.user_id == user.id and event.ip == IP
    assert created.api_key not in str(event.details) and created.api_key not in row.key_hash


def test_the_list_shows_every_live_key_newest_first_and_never_the_secret(auth):
    user = auth.sign_in().user
    first, second = create(auth, user.id, "first"), create(auth, user.id, "second")
    listed = auth.call("ListApiKeys", auth_pb2.ListApiKeysRequest(user_id=user.id))
    assert [k.label for k in listed.keys] == ["second", "first"]
    assert [k.last_five for k in listed.keys] == [second.api_key[-5:], first.api_key[-5:]]
    wire = listed.SerializeToString()
    assert first.api_key.encode() not in wire and second.api_key.encode() not in wire
    other = auth.sign_in().user
    assert list(auth.call("ListApiKeys", auth_pb2.ListApiKeysRequest(user_id=other.id)).keys) == []


@pytest.mark.parametrize("label", ["", "   ", "x" * 101])
def test_a_key_needs_a_label_of_1_to_100_characters(auth, label):
    user = auth.sign_in().user
    error = refused(create, auth, user.id, label)
    assert error.code == "invalid_parameters" and "label" in error.message
    assert list(auth.call("ListApiKeys", auth_pb2.ListApiKeysRequest(user_id=user.id)).keys) == []


def test_a_revoked_key_fails_at_once_and_leaves_the_list(auth, database):
    user = auth.sign_in().user
    created = create(auth, user.id)
    authenticate(auth, created.api_key)
    revoked = auth.call("RevokeApiKey", auth_pb2.RevokeApiKeyRequest(user_id=user.id, api_key_id=created.key.id,
                                                                     ip=IP))
    assert revoked.id == created.key.id
    assert refused(authenticate, auth, created.api_key).code == "unathenticated"
    assert list(auth.call("ListApiKeys", auth_pb2.ListApiKeysRequest(user_id=user.id)).keys) == []
    again = refused(auth.call, "RevokeApiKey", auth_pb2.RevokeApiKeyRequest(user_id=user.id,
                                                                            api_key_id=created.key.id, ip=IP))
    assert again.code == "not_found"
    with database.unit_of_work() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "api_key.revoked",
                                                          AuditEvent.user_id == user.id)).all()
    assert [(e.target_id, e.ip) for e in events] == [(str(created.key.id), IP)]


def test_another_users_key_cannot_be_revoked_and_is_unchanged(auth, database):
    owner, intruder = auth.sign_in().user, auth.sign_in().user
    created = create(auth, owner.id)
    error = refused(auth.call, "RevokeApiKey", auth_pb2.RevokeApiKeyRequest(user_id=intruder.id,
                                                                            api_key_id=created.key.id, ip=IP))
    assert error.code == "not_found" and error.http_status == 404 and error.message == "API key not found"
    assert authenticate(auth, created.api_key).user_id == owner.id
    with database.unit_of_work() as session:
        assert session.get(ApiKey, created.key.id).revoked_at is None
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "api_key.revoked",
                                                        AuditEvent.user_id == intruder.id)).all() == []


def test_an_expired_key_fails_at_once(auth, database):
    user = auth.sign_in().user
    created = create(auth, user.id)
    with database.unit_of_work() as session:
        session.execute(update(ApiKey).where(ApiKey.id == created.key.id)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert refused(authenticate, auth, created.api_key).code == "unathenticated"


def test_no_key_token_or_password_ever_appears_in_the_service_logs(stores, amqp_channel, tmp_path):
    system = start_services(stores, tmp_path, ["auth"], LOG_LEVEL=LOG_LEVEL)
    try:
        service = Auth(service_identity.stub(system.env["AUTH_ADDR"], auth_pb2_grpc.AuthServiceStub),
                       Settings.from_env(system.env), amqp_channel)
        address = f"logged-{secrets.token_hex(4)}@tech.gov.sg"
        password = service.request_otp(address)
        wrong = "AAAAAA" if password != "AAAAAA" else "CCCCCC"
        refused(service.login, address, wrong)
        login = service.login(address, password)
        created = create(service, login.user.id)
        authenticate(service, created.api_key)
        refused(authenticate, service, created.api_key[:-1] + "x")
        service.call("ResolveSession", auth_pb2.ResolveSessionRequest(session_token=login.session_token))
        service.call("Logout", auth_pb2.LogoutRequest(session_token=login.session_token, ip=IP))
    finally:
        stop_system(system)
    logs = (system.log_dir / "auth.log").read_text()
    assert "signed in" in logs and "one-time password sent" in logs  # the service did log what happened
    for secret in (created.api_key, created.api_key[8:], login.session_token, password, wrong):
        assert secret not in logs


def test_the_audit_trail_takes_actions_reported_by_other_services(auth, database):
    user = auth.sign_in().user
    auth.call("RecordAudit", auth_pb2.AuditRecord(user_id=user.id, action="campaign.sent", target_type="campaign",
                                                  target_id="42", ip=IP, details_json='{"job_ids": [7]}'))
    with database.unit_of_work() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.user_id == user.id,
                                                         AuditEvent.action == "campaign.sent")).one()
    assert (event.target_type, event.target_id, event.ip, event.details) == ("campaign", "42", IP, {"job_ids": [7]})


@pytest.mark.parametrize("action,details", [("Campaign.Sent", ""), ("campaign", ""), ("campaign.sent; drop", ""),
                                            ("campaign.sent", "[1, 2]"), ("campaign.sent", "{not json")])
def test_an_audit_record_with_a_bad_action_or_details_is_refused(auth, database, action, details):
    user_id = 987_654_321
    error = refused(auth.call, "RecordAudit", auth_pb2.AuditRecord(user_id=user_id, action=action,
                                                                   details_json=details))
    assert error.code == "invalid_parameters"
    with database.unit_of_work() as session:
        assert session.scalars(select(AuditEvent).where(AuditEvent.user_id == user_id)).all() == []

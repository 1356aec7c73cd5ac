"""Sessions: resolved on every request, ended server-side by logout, expiry or disabling the user."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from postman.v1 import auth_pb2
from postman_auth import sessions
from postman_auth.models import AuditEvent
from postman_auth.models import Session as SignInSession
from postman_shared.grpc.errors import ServiceError
from postman_shared.timestamps import utcnow
from tests.integration.auth.conftest import IP


def resolve(auth, token: str):
    return auth.call("ResolveSession", auth_pb2.ResolveSessionRequest(session_token=token))


def assert_refused(auth, token: str) -> None:
    with pytest.raises(ServiceError) as caught:
        resolve(auth, token)
    assert caught.value.code == "unathenticated" and caught.value.http_status == 401


def test_a_session_is_stored_only_as_the_hash_of_its_token(auth, database):
    login = auth.sign_in()
    with database.unit_of_work() as session:
        row = session.scalars(select(SignInSession).where(SignInSession.user_id == login.user.id)).one()
    assert row.token_hash == sessions.hash_token(login.session_token) and login.session_token not in row.token_hash
    assert row.ip == IP and row.user_agent == "pytest"
    info = resolve(auth, login.session_token)
    assert info.session_id == row.id and info.user.email == login.user.email


def test_logout_ends_the_session_server_side_and_is_idempotent(auth, database):
    login = auth.sign_in()
    other = auth.sign_in(login.user.email.replace("officer", "other"))
    auth.call("Logout", auth_pb2.LogoutRequest(session_token=login.session_token, ip=IP))
    assert_refused(auth, login.session_token)
    auth.call("Logout", auth_pb2.LogoutRequest(session_token=login.session_token, ip=IP))
    auth.call("Logout", auth_pb2.LogoutRequest(session_token="not a token", ip=IP))
    assert resolve(auth, other.session_token).user.id == other.user.id  # only that session ended
    with database.unit_of_work() as session:
        logouts = session.scalars(select(AuditEvent).where(AuditEvent.user_id == login.user.id,
                                                           AuditEvent.action == "auth.logout")).all()
    assert len(logouts) == 1 and logouts[0].ip == IP and logouts[0].target_type == "session"


def test_an_expired_session_is_refused(auth, database):
    login = auth.sign_in()
    with database.unit_of_work() as session:
        session.execute(update(SignInSession).where(SignInSession.user_id == login.user.id)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert_refused(auth, login.session_token)


@pytest.mark.parametrize("tamper", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
    lambda t: t + "A",
    lambda t: t[:-1],
    lambda t: t.upper() if t.upper() != t else t.lower(),
    lambda t: "",
    lambda t: t[:20] + "." + t[21:],
    lambda t: t + "; user_id=1",
])
def test_a_forged_or_tampered_token_is_refused(auth, tamper):
    login = auth.sign_in()
    assert_refused(auth, tamper(login.session_token))


def test_a_well_formed_random_token_is_refused(auth):
    assert_refused(auth, secrets.token_urlsafe(32))

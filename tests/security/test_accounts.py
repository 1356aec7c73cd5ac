"""Accounts against a hostile network (issue 13): nobody can lock an officer out of signing in by guessing from
elsewhere or by asking for passwords in their name; a domain taken off DOMAIN_ALLOWLIST stops its users' sessions
and keys at once; disabling a user stops what they had scheduled or were sending."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from postman.v1 import auth_pb2, auth_pb2_grpc, campaign_pb2_grpc
from postman.v1 import campaign_pb2 as pb
from postman_auth import api_keys
from postman_auth.models import AuditEvent, OneTimePassword, OneTimePasswordFailure, User
from postman_campaign.models import Campaign, Job
from postman_gateway.app import create_app
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError
from postman_shared.settings import Settings
from postman_shared.timestamps import utcnow
from tests.integration.auth.conftest import IP, Auth, new_address
from tests.integration.campaign.support import CampaignApi
from tests.integration.gateway.conftest import one_time_password
from tests.integration.web.conftest import post_form
from tests.support.inprocess import running
from tests.support.service_identity import acting_as
from tests.support.stores import free_port

VICTIM_IP = IP
ATTACKER_IP = "198.51.100.66"


def refused(call, *args) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args)
    return caught.value


def wrong_for(password: str) -> str:
    return "AAAAAA" if password != "AAAAAA" else "CCCCCC"


def allow_another_request(database, address: str) -> None:
    """As if the resend wait had passed since every password of the address was asked for."""
    with database.unit_of_work() as session:
        session.execute(update(OneTimePassword).where(OneTimePassword.email == address)
                        .values(created_at=OneTimePassword.created_at - timedelta(seconds=31)))


def browser_at(app, ip: str):
    """A test client whose requests come from ``ip``."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = ip
    return browser


@pytest.fixture
def auth(settings: Settings, amqp_channel) -> Iterator[Auth]:
    with running(settings, "auth"):
        yield Auth(client.stub(settings.auth_addr, auth_pb2_grpc.AuthServiceStub), settings, amqp_channel)


# --- targeted lock-out ---------------------------------------------------------------------------------------------


def test_wrong_tries_from_another_client_do_not_use_up_the_owners_tries(auth, database):
    address = new_address()
    password = auth.request_otp(address, ip=VICTIM_IP)
    answers = [refused(auth.login, address, wrong_for(password), ATTACKER_IP).message for _ in range(6)]
    assert "1 try left" in answers[2] and all("no tries left" in answer for answer in answers[3:])
    # Even the right password is refused to the client that used up its tries...
    assert "no tries left" in refused(auth.login, address, password, ATTACKER_IP).message
    # ...but the owner, signing in from where they are, still has all theirs.
    assert auth.login(address, password, VICTIM_IP).user.email == address
    with database.unit_of_work() as session:
        assert session.scalars(select(OneTimePasswordFailure).where(OneTimePasswordFailure.email == address)).all() \
            == []  # signing in clears the count


def test_a_new_request_by_someone_else_does_not_void_the_password_the_owner_holds(auth, database):
    address = new_address()
    owners = auth.request_otp(address, ip=VICTIM_IP)
    allow_another_request(database, address)
    auth.request_otp(address, ip=ATTACKER_IP)  # emailed to the owner too: the attacker never sees it
    assert auth.login(address, owners, VICTIM_IP).user.email == address


def test_an_address_holds_five_live_passwords_and_a_sixth_request_is_refused_not_made_room_for(auth, database):
    address = new_address()
    passwords = []
    for _ in range(5):
        passwords.append(auth.request_otp(address, ip=ATTACKER_IP))
        allow_another_request(database, address)
    error = refused(auth.call, "RequestOtp", auth_pb2.RequestOtpRequest(email=address, ip=ATTACKER_IP))
    assert error.code == "rate_limit" and error.retry_after >= 1 and "still valid" in error.message
    assert auth.login(address, passwords[0], VICTIM_IP).user.email == address  # the first one still works
    with database.unit_of_work() as session:  # and signing in ended all five
        assert session.scalars(select(OneTimePassword).where(OneTimePassword.email == address)).all() == []


def test_guessing_from_many_clients_leaves_the_password_usable_only_where_it_was_asked_for(auth, database):
    address = new_address()
    password = auth.request_otp(address, ip=VICTIM_IP)
    ceiling_clients = 10  # one_time_passwords.ADDRESS_CEILING_CLIENTS clients used up their 4 tries
    with database.unit_of_work() as session:
        for n in range(ceiling_clients):
            session.add(OneTimePasswordFailure(email=address, ip=f"192.0.2.{n}", wrong_tries=4,
                                               window_ends_at=utcnow() + timedelta(minutes=10)))
    elsewhere = refused(auth.login, address, password, ATTACKER_IP)
    assert elsewhere.code == "unathenticated" and "3 tries left" in elsewhere.message
    assert auth.login(address, password, VICTIM_IP).user.email == address
    with database.unit_of_work() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.email == address,
                                                         AuditEvent.action == "auth.login_failed")).one()
    assert event.details == {"reason": "wrong", "guarded": True} and event.ip == ATTACKER_IP


def test_what_guessing_left_behind_for_addresses_that_never_come_back_is_swept(auth, database):
    sprayed = new_address()
    with database.unit_of_work() as session:
        session.add(OneTimePasswordFailure(email=sprayed, ip=ATTACKER_IP, wrong_tries=4,
                                           window_ends_at=utcnow() - timedelta(days=1, minutes=1)))
        session.add(OneTimePassword(email=sprayed, password_hash="scrypt$x", requested_ip=ATTACKER_IP,
                                    created_at=utcnow() - timedelta(days=2), expires_at=utcnow() - timedelta(days=1,
                                                                                                            minutes=1)))
    auth.request_otp(new_address())  # any request sweeps
    with database.unit_of_work() as session:
        assert session.scalars(select(OneTimePasswordFailure).where(OneTimePasswordFailure.email == sprayed)).all() \
            == []
        assert session.scalars(select(OneTimePassword).where(OneTimePassword.email == sprayed)).all() == []


class TestTheGatewayLimitsSignInAttemptsPerClient:
    @pytest.fixture
    def settings(self, settings):
        return replace(settings, login_ip_limit_per_hour=3)

    def test_the_login_route_answers_429_past_the_limit_for_that_client_only(self, settings, auth):
        app = create_app(settings)
        attacker = browser_at(app, ATTACKER_IP)
        answers = [attacker.post("/v1/auth/login", json={"email": new_address(), "otp": "ACDEFG"})
                   for _ in range(4)]
        assert [a.status_code for a in answers] == [401, 401, 401, 429]
        assert answers[3].json["code"] == "rate_limit" and int(answers[3].headers["Retry-After"]) >= 1
        assert "sign-in attempts" in answers[3].json["message"]
        owner = browser_at(app, VICTIM_IP)
        address = new_address()
        assert owner.post("/v1/auth/otp", json={"email": address}).status_code == 200
        login = owner.post("/v1/auth/login", json={"email": address,
                                                   "otp": one_time_password(auth.channel, address)})
        assert login.status_code == 200, login.json

    def test_the_sign_in_page_counts_against_the_same_limit(self, settings, auth):
        browser = browser_at(create_app(settings), ATTACKER_IP)
        address = new_address()
        page = f"/sign-in/password?email={address}"
        statuses = [post_form(browser, page, "/sign-in/password", email=address, password="ACDEFG")
                    for _ in range(4)]
        assert [s.status_code for s in statuses] == [400, 400, 400, 400]
        assert "Wrong or expired" in statuses[2].get_data(as_text=True)
        assert "Too many sign-in attempts" in statuses[3].get_data(as_text=True)


# --- DOMAIN_ALLOWLIST at every use ---------------------------------------------------------------------------------


def test_a_domain_taken_off_the_allowlist_stops_its_sessions_keys_and_passwords(settings, amqp_channel, database):
    address = f"officer-{secrets.token_hex(4)}@leaving.gov.sg"
    with running(settings, "auth"):
        auth = Auth(client.stub(settings.auth_addr, auth_pb2_grpc.AuthServiceStub), settings, amqp_channel)
        login = auth.sign_in(address)
        key = auth.call("CreateApiKey", auth_pb2.CreateApiKeyRequest(user_id=login.user.id, label="ci",
                                                                     ip=IP)).api_key
        allow_another_request(database, address)
        pending = auth.request_otp(address)  # asked for before the domain was removed
    narrowed = replace(settings, domain_allowlist=".staying.gov.sg")  # leaving.gov.sg is taken off
    with running(narrowed, "auth"):
        auth = Auth(client.stub(settings.auth_addr, auth_pb2_grpc.AuthServiceStub), narrowed, amqp_channel)
        by_session = refused(auth.call, "ResolveSession",
                             auth_pb2.ResolveSessionRequest(session_token=login.session_token))
        by_key = refused(auth.call, "Authenticate", auth_pb2.AuthenticateRequest(api_key=key))
        by_password = refused(auth.login, address, pending)
        for error in (by_session, by_key, by_password):
            assert error.code == "unauthorized" and error.http_status == 403
            assert f"{address} is not allowed to use Postman" in error.message
        asked = refused(auth.call, "RequestOtp", auth_pb2.RequestOtpRequest(email=address, ip=IP))
        assert asked.code == "unauthorized"

        app = create_app(narrowed).test_client()
        api = app.get("/v1/auth/userinfo", headers={"Authorization": f"Bearer {key}"})
        assert api.status_code == 403 and "not allowed to use Postman" in api.json["message"]
        app.set_cookie("postman_session", login.session_token)
        by_cookie = app.get("/v1/auth/userinfo")
        assert by_cookie.status_code == 403 and "not allowed to use Postman" in by_cookie.json["message"]
        assert app.get_cookie("postman_session") is None  # the refused cookie is cleared
        app.set_cookie("postman_session", login.session_token)
        page = app.get("/campaigns")  # the pages treat it as signed out: signing in again says why
        assert page.status_code == 302 and page.headers["Location"].startswith("/sign-in")
    with database.unit_of_work() as session:
        failed = session.scalars(select(AuditEvent).where(AuditEvent.email == address,
                                                          AuditEvent.action == "auth.login_failed")).one()
        assert failed.details == {"reason": "domain_not_allowed"}
        # Nothing was revoked: putting the domain back restores the session and the key.
        assert session.scalars(select(User.disabled_at).where(User.email == address)).one() is None
    with running(settings, "auth"):
        auth = Auth(client.stub(settings.auth_addr, auth_pb2_grpc.AuthServiceStub), settings, amqp_channel)
        assert auth.call("Authenticate", auth_pb2.AuthenticateRequest(api_key=key)).user_id == login.user.id


# --- disabling a user stops their campaigns -------------------------------------------------------------------------


def postmanctl(settings: Settings, *args: str, campaign_addr: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": settings.database_url,
           "CAMPAIGN_ADDR": campaign_addr or settings.campaign_addr, "GRPC_TLS_DIR": str(settings.grpc_tls_dir)}
    return subprocess.run([sys.executable, "-m", "postman_ctl.cli", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def _campaign_with_job(database, api: CampaignApi, status: str) -> int:
    campaign_id = api.create("Vaccination reminders")
    with database.unit_of_work() as session:
        session.add(Job(campaign_id=campaign_id, status=status,
                        scheduled_at=utcnow() + timedelta(days=1) if status == "READY" else None))
    return campaign_id


def _statuses(database, campaign_id: int) -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(Job.status).where(Job.campaign_id == campaign_id).order_by(Job.id)))


def _officer(database) -> tuple[int, str]:
    with database.unit_of_work() as session:
        user = api_keys.get_or_create_user(session, new_address())
        return user.id, user.email


def test_disabling_a_user_cancels_their_scheduled_sends_and_stops_their_sending_campaigns(settings, database):
    user_id, email = _officer(database)
    with running(settings, "campaign"):
        mine = CampaignApi(settings, user_id)
        scheduled = _campaign_with_job(database, mine, "READY")
        sending = _campaign_with_job(database, mine, "SENDING")
        enqueued = _campaign_with_job(database, mine, "ENQUEUED")
        finished = _campaign_with_job(database, mine, "LOGGED")
        someone_elses = _campaign_with_job(database, CampaignApi(settings), "SENDING")

        result = postmanctl(settings, "disable-user", email)

        assert result.returncode == 0, result.stderr
        assert f"cancelled 1 scheduled send(s): campaign(s) {scheduled}" in result.stderr
        assert f"stopped 2 sending campaign(s): campaign(s) {min(sending, enqueued)}, {max(sending, enqueued)}" \
            in result.stderr
        assert _statuses(database, scheduled) == []  # a draft again
        assert _statuses(database, sending) == _statuses(database, enqueued) == ["STOPPED"]
        assert _statuses(database, finished) == ["LOGGED"] and _statuses(database, someone_elses) == ["SENDING"]
        with database.session() as session:
            assert session.get(Campaign, scheduled) is not None
        # Idempotent: a second run finds nothing left to do.
        again = postmanctl(settings, "disable-user", email)
        assert again.returncode == 0 and "no scheduled or sending campaigns" in again.stderr
    with database.session() as session:
        events = [(e.ip, e.details) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.user_id == user_id, AuditEvent.action == "user.campaigns_stopped")
            .order_by(AuditEvent.id))]
        assert session.scalars(select(User.disabled_at).where(User.id == user_id)).one() is not None
    assert events == [
        ("cli", {"cancelled_campaign_ids": [scheduled], "stopped_campaign_ids": sorted([sending, enqueued])}),
        ("cli", {"cancelled_campaign_ids": [], "stopped_campaign_ids": []}),
    ]


def test_when_the_campaign_service_cannot_be_asked_the_user_is_still_disabled_and_the_command_says_so(settings,
                                                                                                     database):
    user_id, email = _officer(database)
    result = postmanctl(settings, "disable-user", email, campaign_addr=f"127.0.0.1:{free_port()}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "is disabled" in result.stderr and "were NOT stopped" in result.stderr
    assert "disable-user again" in result.stderr
    with database.session() as session:
        assert session.scalars(select(User.disabled_at).where(User.id == user_id)).one() is not None
        event = session.scalars(select(AuditEvent).where(AuditEvent.user_id == user_id,
                                                         AuditEvent.action == "user.campaigns_not_stopped")).one()
        assert "did not answer" in event.details["error"] and event.ip == "cli"


def test_only_postmanctl_may_stop_a_users_campaigns_and_it_must_name_the_user(settings, database):
    user_id, _email = _officer(database)
    with running(settings, "campaign"):
        api = CampaignApi(settings, user_id)
        sending = _campaign_with_job(database, api, "SENDING")
        gateway = client.stub(settings.campaign_addr, campaign_pb2_grpc.CampaignServiceStub)  # the tests' identity
        as_gateway = refused(client.call, gateway.StopCampaignsOfUser, pb.StopCampaignsOfUserRequest(user_id=user_id))
        with acting_as("postmanctl"):  # stubs made in the block call as postmanctl
            stub = client.stub(settings.campaign_addr, campaign_pb2_grpc.CampaignServiceStub)
            nobody = refused(client.call, stub.StopCampaignsOfUser, pb.StopCampaignsOfUserRequest())
    assert as_gateway.code == "unauthorized" and nobody.code == "invalid_parameters"
    assert _statuses(database, sending) == ["SENDING"]

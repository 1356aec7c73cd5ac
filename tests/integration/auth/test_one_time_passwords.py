"""Signing in with a one-time password, through the auth service over gRPC, against the real stores."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from postman.v1 import auth_pb2
from postman_auth.models import AuditEvent, OneTimePassword, OneTimePasswordFailure, User
from postman_shared.grpc.errors import ServiceError
from postman_shared.timestamps import utcnow
from tests.integration.auth.conftest import IP, new_address


def refused(call, *args) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args)
    return caught.value


def test_the_password_arrives_by_priority_email_and_is_stored_only_as_a_hash(auth, database):
    address = new_address()
    reply = auth.call("RequestOtp", auth_pb2.RequestOtpRequest(email=address, ip=IP))
    assert reply.valid_for_seconds == 600 and reply.resend_after_seconds == 30
    email = auth.priority_email(address)
    assert email.message_id.startswith("otp-") and email.subject == "Your Postman one-time password"
    assert email.sender == auth.settings.email_from
    assert "valid for 10 minutes" in email.body and IP in email.body
    password = email.body.split('letter-spacing:4px">')[1][:6]
    with database.unit_of_work() as session:
        row = session.scalars(select(OneTimePassword).where(OneTimePassword.email == address)).one()
        assert row.requested_ip == IP
        assert password not in row.password_hash and row.password_hash.startswith("scrypt$")
        assert session.scalars(select(User).where(User.email == address)).one_or_none() is None


def test_a_first_sign_in_creates_the_user_and_starts_a_session(auth, database):
    address = new_address()
    login = auth.login(address.upper(), auth.request_otp(address).lower())
    assert login.user.email == address and login.user.rate_limit == auth.settings.send_rate_limit_default
    assert len(login.session_token) == 43
    assert timedelta(hours=23, minutes=59) < login.expires_at.ToDatetime() - utcnow().replace(tzinfo=None)
    with database.unit_of_work() as session:
        assert session.scalars(select(User.id).where(User.email == address)).one() == login.user.id
    again = auth.call("ResolveSession", auth_pb2.ResolveSessionRequest(session_token=login.session_token))
    assert again.user.id == login.user.id


def test_a_password_works_only_once(auth):
    address = new_address()
    password = auth.request_otp(address)
    auth.login(address, password)
    error = refused(auth.login, address, password)
    assert error.code == "unathenticated" and "ask for a new one-time password" in error.message


def test_four_wrong_tries_from_one_client_refuse_that_client_even_the_right_password(auth, database):
    address = new_address()
    password = auth.request_otp(address)
    wrong = "AAAAAA" if password != "AAAAAA" else "CCCCCC"
    messages = [refused(auth.login, address, wrong).message for _ in range(4)]
    assert messages[0].endswith("You have 3 tries left.") and messages[2].endswith("You have 1 try left.")
    assert "no tries left" in messages[3]
    error = refused(auth.login, address, password)
    assert error.code == "unathenticated" and "no tries left" in error.message
    with database.unit_of_work() as session:
        reasons = [e.details["reason"] for e in session.scalars(
            select(AuditEvent).where(AuditEvent.email == address, AuditEvent.action == "auth.login_failed")
            .order_by(AuditEvent.id))]
    assert reasons == ["wrong", "wrong", "wrong", "used_up", "used_up"]


def test_parallel_wrong_guesses_from_one_client_cannot_get_more_than_four_tries(auth, database):
    address = new_address()
    password = auth.request_otp(address)
    guesses = [g for g in ("ACDEFG", "HJKMNP", "QRTUVW", "XY3467", "9ACDEF", "GHJKMN", "PQRTUV", "WXY346",
                           "79ACDE", "FGHJKM") if g != password]
    answers: list[str] = []

    def guess(value: str) -> None:
        try:
            auth.login(address, value)
        except ServiceError as error:
            answers.append(error.message)

    threads = [threading.Thread(target=guess, args=(g,)) for g in guesses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == len(guesses)
    assert sum("You have" in a for a in answers) == 3  # tries 1 to 3 say how many remain, all others none
    with database.unit_of_work() as session:
        assert session.get(OneTimePasswordFailure, (address, IP)).wrong_tries == 4
    assert "no tries left" in refused(auth.login, address, password).message


def test_an_expired_password_is_refused(auth, database):
    address = new_address()
    password = auth.request_otp(address)
    with database.unit_of_work() as session:
        session.execute(update(OneTimePassword).where(OneTimePassword.email == address)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    error = refused(auth.login, address, password)
    assert error.code == "unathenticated" and error.message.startswith("Wrong or expired one-time password")


def test_an_address_that_never_asked_gets_the_same_answer_as_an_expired_password(auth):
    never = refused(auth.login, new_address(), "ACDEFG")
    assert never.code == "unathenticated"
    assert never.message == "Wrong or expired one-time password. Please ask for a new one-time password."


def test_a_new_password_is_refused_until_the_resend_wait_is_over(auth, database):
    address = new_address()
    auth.request_otp(address)
    error = refused(auth.call, "RequestOtp", auth_pb2.RequestOtpRequest(email=address, ip=IP))
    assert error.code == "rate_limit" and error.http_status == 429
    assert 1 <= error.retry_after <= 30 and f"wait {error.retry_after} seconds" in error.message
    with database.unit_of_work() as session:  # once the wait is over, a new password is added next to the first
        session.execute(update(OneTimePassword).where(OneTimePassword.email == address)
                        .values(created_at=utcnow() - timedelta(seconds=31)))
    second = auth.request_otp(address)
    with database.unit_of_work() as session:
        assert len(session.scalars(select(OneTimePassword).where(OneTimePassword.email == address)).all()) == 2
    assert auth.login(address, second).user.email == address
    with database.unit_of_work() as session:  # signing in ends every password of the address
        assert session.scalars(select(OneTimePassword).where(OneTimePassword.email == address)).all() == []


def test_parallel_requests_for_one_address_send_one_password(auth):
    address = new_address()
    outcomes: list[str] = []

    def ask() -> None:
        try:
            auth.call("RequestOtp", auth_pb2.RequestOtpRequest(email=address, ip=IP))
            outcomes.append("sent")
        except ServiceError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=ask) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["rate_limit"] * 4 + ["sent"]


@pytest.mark.parametrize("address", ["x@gov.sg.evil.com", "x@evil-gov.sg", "x@tech.g\u043ev.sg", "x@tech.gov.sg."])
def test_an_address_outside_the_allowlist_gets_no_password_and_no_user(auth, database, address):
    error = refused(auth.call, "RequestOtp", auth_pb2.RequestOtpRequest(email=address, ip=IP))
    assert error.code in ("unauthorized", "invalid_parameters")
    assert auth.channel.basic_get("email.priority", auto_ack=True)[0] is None
    with database.unit_of_work() as session:
        assert session.scalars(select(OneTimePassword).where(OneTimePassword.email == address.lower())).all() == []
        assert session.scalars(select(User).where(User.email == address.lower())).all() == []


def test_a_refused_domain_is_named_as_not_allowed_and_audited(auth, database):
    address = new_address().replace("tech.gov.sg", "tech.gov.sg.evil.com")
    error = refused(auth.call, "RequestOtp", auth_pb2.RequestOtpRequest(email=address, ip=IP))
    assert error.code == "unauthorized" and error.http_status == 403 and "not allowed" in error.message
    with database.unit_of_work() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.email == address)).one()
    assert event.action == "auth.otp_requested" and event.details == {"allowed": False} and event.ip == IP


def test_a_malformed_address_is_an_invalid_parameter(auth):
    error = refused(auth.call, "RequestOtp", auth_pb2.RequestOtpRequest(email="not an address", ip=IP))
    assert error.code == "invalid_parameters" and "is not an email address" in error.message


class TestWithAnExactDomainAllowed:
    @pytest.fixture
    def auth_settings(self, settings):
        return replace(settings, domain_allowlist=".gov.sg;@partner.example.com")

    def test_an_at_entry_lets_exactly_that_domain_sign_in(self, auth):
        assert auth.sign_in("someone@partner.example.com").user.email == "someone@partner.example.com"
        error = refused(auth.call, "RequestOtp",
                        auth_pb2.RequestOtpRequest(email="x@sub.partner.example.com", ip=IP))
        assert error.code == "unauthorized"


class TestWhenTheBrokerIsUnreachable:
    @pytest.fixture
    def auth_settings(self, settings):
        return replace(settings, amqp_url="amqp://guest:guest@127.0.0.1:1/%2F")

    def test_asking_for_a_password_says_to_try_again_and_the_address_may_ask_again(self, auth, database):
        address = new_address()
        error = refused(auth.call, "RequestOtp", auth_pb2.RequestOtpRequest(email=address, ip=IP))
        assert error.code == "service_unavailable" and "try again" in error.message
        with database.unit_of_work() as session:  # the stored password is harmless: nobody received it
            assert session.scalars(select(OneTimePassword).where(OneTimePassword.email == address)).one()

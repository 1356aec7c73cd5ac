"""Rate limits through the gateway: per user on the API and on sends, per IP and per address on one-time passwords.
Excess is 429 with a Retry-After in whole seconds; with Redis, the count is shared by every gateway process."""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest
import redis
from sqlalchemy import update

from postman_auth.models import User
from postman_gateway.app import create_app
from postman_gateway.core.rate_limits import MemoryLimitStore, RedisLimitStore
from tests.integration.gateway.conftest import new_address
from tests.support.inprocess import running

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def settings(settings):
    # No resend wait in the auth service, so the gateway's per-address limit is what answers 429.
    return replace(settings, api_rate_limit=3, otp_ip_limit_per_hour=3, otp_email_limit_per_hour=2,
                   otp_resend_seconds=0)


@pytest.fixture
def redis_prefix():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    prefix = f"test:{secrets.token_hex(6)}:"
    yield prefix
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)


def assert_rate_limited(response):
    assert (response.status_code, response.json["code"]) == (429, "rate_limit"), response.json
    assert int(response.headers["Retry-After"]) >= 1


class StoppedClock:
    """Time that moves only when a test says so: a one-second window stays open however slow the machine."""

    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.usefixtures("auth_service")
def test_two_gateways_on_one_redis_share_a_limit(settings, redis_prefix):
    first = create_app(settings, limit_store=RedisLimitStore(REDIS_URL, key_prefix=redis_prefix)).test_client()
    second = create_app(settings, limit_store=RedisLimitStore(REDIS_URL, key_prefix=redis_prefix)).test_client()

    answers = [gateway.post("/v1/auth/otp", json={"email": new_address()}).status_code
               for gateway in (first, second, first)]
    assert answers == [200, 200, 200]
    over = second.post("/v1/auth/otp", json={"email": new_address()})

    assert_rate_limited(over)
    assert 3000 < int(over.headers["Retry-After"]) <= 3600


@pytest.mark.usefixtures("auth_service")
def test_the_api_is_limited_per_user_per_second(settings, new_caller):
    clock = StoppedClock()
    http = create_app(settings, limit_store=MemoryLimitStore(clock)).test_client()
    caller, other = new_caller(), new_caller()

    assert [http.get("/v1/auth/userinfo", headers=caller.headers).status_code for _ in range(3)] == [200] * 3
    over = http.get("/v1/auth/userinfo", headers=caller.headers)
    assert_rate_limited(over)
    assert over.headers["Retry-After"] == "1"
    assert http.get("/v1/auth/userinfo", headers=other.headers).status_code == 200

    clock.now += 1
    assert http.get("/v1/auth/userinfo", headers=caller.headers).status_code == 200


@pytest.mark.usefixtures("auth_service")
def test_otp_requests_are_limited_per_ip(http):
    for _ in range(3):
        assert http.post("/v1/auth/otp", json={"email": new_address()}).status_code == 200
    over = http.post("/v1/auth/otp", json={"email": new_address()})
    assert_rate_limited(over)
    assert 3000 < int(over.headers["Retry-After"]) <= 3600

    elsewhere = http.post("/v1/auth/otp", json={"email": new_address()}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert elsewhere.status_code == 200


@pytest.mark.usefixtures("auth_service")
def test_otp_requests_are_limited_per_address_whatever_the_ip_or_case(http):
    email = new_address()
    assert http.post("/v1/auth/otp", json={"email": email}, environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code \
        == 200
    assert http.post("/v1/auth/otp", json={"email": email.upper()},
                     environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 200
    assert_rate_limited(http.post("/v1/auth/otp", json={"email": f" {email} "},
                                  environ_base={"REMOTE_ADDR": "10.0.0.3"}))


def test_sends_are_limited_by_the_users_own_rate(settings, new_caller, database):
    caller = new_caller()
    with database.unit_of_work() as session:
        session.execute(update(User).where(User.id == caller.user_id).values(rate_limit=1))
    http = create_app(settings, limit_store=MemoryLimitStore(StoppedClock())).test_client()
    with running(settings, "auth", "campaign"):
        first = http.post("/v1/campaign/987654321/email/send", headers=caller.headers)
        assert first.status_code == 404  # counted: the limit is checked before the campaign service is asked
        assert_rate_limited(http.post("/v1/campaign/987654321/email/send", headers=caller.headers))


@pytest.mark.usefixtures("auth_service")
def test_without_redis_the_api_stays_open_and_otp_requests_are_refused(settings, new_caller):
    unreachable = replace(settings, redis_url="redis://127.0.0.1:9/0")  # nothing listens on port 9
    http = create_app(unreachable).test_client()
    caller = new_caller()

    assert [http.get("/v1/auth/userinfo", headers=caller.headers).status_code for _ in range(5)] == [200] * 5
    refused = http.post("/v1/auth/otp", json={"email": new_address()})
    assert (refused.status_code, refused.json["code"]) == (503, "service_unavailable")

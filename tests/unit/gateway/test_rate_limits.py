"""Rate limits count a fixed window per subject, in process or in Redis, and say when to come back."""

from __future__ import annotations

import secrets

import pytest
import redis

from postman_gateway.core.rate_limits import (
    Limit,
    MemoryLimitStore,
    RateLimiter,
    RedisLimitStore,
    address_subject,
)
from postman_shared.grpc.errors import ServiceError

REDIS_URL = "redis://127.0.0.1:6379/15"
THREE_PER_MINUTE = Limit("test", 3, 60, fail_open=True, what="tests")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def redis_store():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    prefix = f"test:{secrets.token_hex(6)}:"
    store = RedisLimitStore(REDIS_URL, key_prefix=prefix)
    yield store
    cleanup = redis.Redis.from_url(REDIS_URL)
    for key in cleanup.scan_iter(match=prefix + "*"):
        cleanup.delete(key)
    store.close()


def refusal(limiter, limit, subject):
    with pytest.raises(ServiceError) as refused:
        limiter.check(limit, subject)
    return refused.value


def test_memory_store_allows_the_limit_then_refuses_with_the_time_left_in_the_window(clock):
    limiter = RateLimiter(MemoryLimitStore(clock))
    for _ in range(3):
        limiter.check(THREE_PER_MINUTE, "user-1")
    clock.now += 20.2
    error = refusal(limiter, THREE_PER_MINUTE, "user-1")
    assert error.code == "rate_limit"
    assert error.http_status == 429
    assert error.retry_after == 40  # 39.8 s left, rounded up to whole seconds
    assert "at most 3 per minute" in error.message


def test_memory_store_opens_a_new_window_when_the_old_one_closes(clock):
    limiter = RateLimiter(MemoryLimitStore(clock))
    for _ in range(3):
        limiter.check(THREE_PER_MINUTE, "user-1")
    clock.now += 60
    limiter.check(THREE_PER_MINUTE, "user-1")


def test_subjects_and_limits_are_counted_apart(clock):
    limiter = RateLimiter(MemoryLimitStore(clock))
    other_limit = Limit("other", 3, 60, fail_open=True, what="tests")
    for _ in range(3):
        limiter.check(THREE_PER_MINUTE, "user-1")
        limiter.check(THREE_PER_MINUTE, "user-2")
        limiter.check(other_limit, "user-1")
    refusal(limiter, THREE_PER_MINUTE, "user-1")


def test_retry_after_is_at_least_one_second(clock):
    limiter = RateLimiter(MemoryLimitStore(clock))
    per_second = Limit("api", 1, 1, fail_open=True, what="requests")
    limiter.check(per_second, "user-1")
    clock.now += 0.999
    assert refusal(limiter, per_second, "user-1").retry_after == 1


def test_memory_store_forgets_closed_windows(clock):
    store = MemoryLimitStore(clock)
    for i in range(MemoryLimitStore._SWEEP_EVERY - 1):
        store.hit(f"subject-{i}", 1)
    clock.now += 2
    store.hit("late", 1)
    assert list(store._windows) == ["late"]


def test_redis_store_allows_the_limit_then_refuses_until_the_window_closes(redis_store):
    limiter = RateLimiter(redis_store)
    for _ in range(3):
        limiter.check(THREE_PER_MINUTE, "user-1")
    error = refusal(limiter, THREE_PER_MINUTE, "user-1")
    assert error.code == "rate_limit"
    assert 1 <= error.retry_after <= 60
    limiter.check(THREE_PER_MINUTE, "user-2")


def test_redis_store_keys_carry_the_prefix_and_expire(redis_store):
    redis_store.hit("api:7", 60)
    raw = redis.Redis.from_url(REDIS_URL)
    key = redis_store.key_prefix + "api:7"
    assert raw.get(key) == b"1"
    assert 0 < raw.pttl(key) <= 60_000


def test_two_redis_stores_with_one_prefix_share_the_count(redis_store):
    other = RedisLimitStore(REDIS_URL, key_prefix=redis_store.key_prefix)
    try:
        first, second = RateLimiter(redis_store), RateLimiter(other)
        first.check(THREE_PER_MINUTE, "user-1")
        second.check(THREE_PER_MINUTE, "user-1")
        first.check(THREE_PER_MINUTE, "user-1")
        assert refusal(second, THREE_PER_MINUTE, "user-1").code == "rate_limit"
    finally:
        other.close()


def unreachable_store():
    # Port 9 (discard) has nothing listening: the connection is refused at once.
    return RedisLimitStore("redis://127.0.0.1:9/0", key_prefix="unreachable:")


def test_an_unreachable_redis_lets_a_fail_open_limit_through():
    RateLimiter(unreachable_store()).check(THREE_PER_MINUTE, "user-1")


def test_an_unreachable_redis_refuses_a_fail_closed_limit_with_503():
    otp = Limit("otp-ip", 3, 3600, fail_open=False, what="one-time password requests")
    error = refusal(RateLimiter(unreachable_store()), otp, "127.0.0.1")
    assert error.code == "service_unavailable"
    assert error.http_status == 503


def test_address_subjects_ignore_case_and_spaces_and_hide_the_address():
    subject = address_subject(" Officer@Agency.gov.sg ")
    assert subject == address_subject("officer@agency.gov.sg")
    assert "agency" not in subject
    assert subject != address_subject("officer@agency.gov.sg.evil.com")

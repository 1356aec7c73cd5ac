"""The send rate's Redis store: one schedule per subject shared by every limiter (every sender replica)."""

from __future__ import annotations

import secrets
import threading
import time
from itertools import pairwise

import pytest
import redis

from postman_shared.send_rate import RedisSlotStore, SendRate

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def key_prefix():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    prefix = f"test:sendrate:{secrets.token_hex(6)}:"
    yield prefix
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


def test_slots_are_reserved_in_order_one_interval_apart(key_prefix):
    store = RedisSlotStore(REDIS_URL, key_prefix)
    waits = [store.reserve("sms:campaign:1", 0.5) for _ in range(4)]
    assert waits[0] == pytest.approx(0.0, abs=0.05)
    # Each reservation is 0.5 s after the previous one, less the moment that passed between the calls.
    assert all(0.0 < later - earlier <= 0.5 + 1e-5 for earlier, later in pairwise(waits))
    store.close()


def test_the_schedule_key_expires_after_its_slots(key_prefix):
    store = RedisSlotStore(REDIS_URL, key_prefix)
    store.reserve("sms:campaign:1", 0.5)
    ttl_ms = redis.Redis.from_url(REDIS_URL).pttl(key_prefix + "sms:campaign:1")
    assert 0 < ttl_ms <= 1500
    store.close()


def test_two_limiters_sharing_a_subject_hold_the_rate_together(key_prefix):
    limiters = [SendRate(RedisSlotStore(REDIS_URL, key_prefix)) for _ in range(2)]
    per_limiter, per_second = 10, 20
    taken: list[float] = []
    lock = threading.Lock()

    def acquire_all(limiter: SendRate) -> None:
        for _ in range(per_limiter):
            limiter.acquire("sms:campaign:1", per_second)
            with lock:
                taken.append(time.monotonic())

    start = time.monotonic()
    threads = [threading.Thread(target=acquire_all, args=(limiter,)) for limiter in limiters for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    count = len(taken)
    assert count == 2 * 2 * per_limiter
    assert max(taken) - start >= (count - 1) / per_second


def test_subjects_in_redis_have_separate_schedules(key_prefix):
    store = RedisSlotStore(REDIS_URL, key_prefix)
    store.reserve("sms:campaign:1", 10.0)
    assert store.reserve("sms:campaign:2", 10.0) == pytest.approx(0.0, abs=0.05)
    store.close()

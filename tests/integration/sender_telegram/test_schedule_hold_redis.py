"""A bot's schedule held in Redis (a 429's retry-after) holds for every replica: another limiter on the same store
gets its next slot only after the hold."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import redis

from postman_shared.send_rate import RedisSlotStore

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def key_prefix() -> Iterator[str]:
    prefix = f"test:sendrate:{secrets.token_hex(6)}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


def test_a_hold_by_one_replica_delays_the_next_slot_of_another(key_prefix):
    throttled, other = RedisSlotStore(REDIS_URL, key_prefix), RedisSlotStore(REDIS_URL, key_prefix)
    throttled.hold("telegram:bot:1", 2.0)
    first, second = other.reserve("telegram:bot:1", 0.1), other.reserve("telegram:bot:1", 0.1)
    assert 1.9 < first <= 2.0
    assert second - first == pytest.approx(0.1, abs=0.01)
    assert other.reserve("telegram:bot:2", 0.1) == pytest.approx(0.0, abs=0.05)  # other bots are not held
    throttled.close()
    other.close()


def test_a_shorter_hold_does_not_bring_a_longer_one_forward(key_prefix):
    store = RedisSlotStore(REDIS_URL, key_prefix)
    store.hold("telegram:bot:1", 3.0)
    store.hold("telegram:bot:1", 1.0)
    assert 2.9 < store.reserve("telegram:bot:1", 0.1) <= 3.0
    ttl_ms = redis.Redis.from_url(REDIS_URL).pttl(key_prefix + "telegram:bot:1")
    assert 3000 < ttl_ms <= 4200  # the key outlives the hold, then expires on its own
    store.close()

"""The pace of a sender: at most ``rate`` messages per second per subject (e.g. ``sms:campaign:<id>``), shared by
every replica of the sender.

A generic cell rate algorithm with a burst of one: each subject has a theoretical arrival time (TAT), the earliest
moment its next message may go. ``reserve`` takes the slot ``max(now, TAT)`` and moves the TAT one interval
(``1/rate``) past it, in one atomic step, so callers get distinct slots in the order they asked and never two in
one interval; the caller then sleeps until its slot. The schedule lives in Redis when ``REDIS_URL`` is set (one Lua
script, Redis's own clock, so replicas on different hosts share one schedule and one clock), else in a locked dict
(one process only).

When Redis cannot be reached the limiter keeps pacing with the in-process schedule (each replica then holds the
rate on its own; a warning is logged) and tries Redis again after a few seconds: a limiter outage slows nothing
down to zero and never stops a send.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis

from postman_shared.logging import get_logger

DEFAULT_KEY_PREFIX = "postman:sendrate:"


class SendRateStopped(Exception):
    """The stop event was set while waiting for a slot: the message was not given one and must not be sent now."""


class SlotStoreUnavailable(Exception):
    pass


class SlotStore(Protocol):
    def reserve(self, key: str, interval_seconds: float) -> float:
        """Reserves the next slot of ``key`` and returns the seconds until it (0 when it is now)."""

    def hold(self, key: str, seconds: float) -> None:
        """No slot of ``key`` before ``seconds`` from now (a provider said to wait); later slots stay as they are."""


class MemorySlotStore:
    """Theoretical arrival times in a dict guarded by a lock: correct for one process."""

    _SWEEP_EVERY = 1000  # reservations between removals of past schedules, so the dict does not grow without bound

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._arrivals: dict[str, float] = {}  # key -> theoretical arrival time of its next slot
        self._since_sweep = 0

    def reserve(self, key: str, interval_seconds: float) -> float:
        with self._lock:
            now = self._clock()
            self._since_sweep += 1
            if self._since_sweep >= self._SWEEP_EVERY:
                self._arrivals = {k: tat for k, tat in self._arrivals.items() if tat > now}
                self._since_sweep = 0
            slot = max(now, self._arrivals.get(key, now))
            self._arrivals[key] = slot + interval_seconds
        return slot - now

    def hold(self, key: str, seconds: float) -> None:
        with self._lock:
            now = self._clock()
            self._arrivals[key] = max(self._arrivals.get(key, now), now + seconds)


# One round trip, atomic. Times are whole microseconds from Redis's TIME (exact in a Lua double until 2255). The
# key expires one second after its TAT, when a schedule that has fallen behind is the same as no schedule.
_RESERVE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, tat)
local next_tat = slot + interval
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.floor((next_tat - now) / 1000) + 1000)
return slot - now
"""

# Moves the TAT to now + ARGV[1] microseconds unless it is already later.
_HOLD_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local hold_until = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if hold_until > tat then
  redis.call('SET', KEYS[1], string.format('%d', hold_until), 'PX', math.floor((hold_until - now) / 1000) + 1000)
end
return 0
"""


class RedisSlotStore:
    """Theoretical arrival times in Redis, shared by every replica. Keys are ``<key_prefix><subject>``."""

    TIMEOUT_SECONDS = 0.5

    def __init__(self, url: str, key_prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=self.TIMEOUT_SECONDS,
                                           socket_connect_timeout=self.TIMEOUT_SECONDS)
        self._script = self._redis.register_script(_RESERVE_SCRIPT)
        self._hold_script = self._redis.register_script(_HOLD_SCRIPT)
        self.key_prefix = key_prefix

    def reserve(self, key: str, interval_seconds: float) -> float:
        interval_us = max(1, round(interval_seconds * 1_000_000))
        try:
            wait_us = self._script(keys=[self.key_prefix + key], args=[interval_us])
        except redis.RedisError as exc:
            raise SlotStoreUnavailable(str(exc)) from exc
        return int(wait_us) / 1_000_000

    def hold(self, key: str, seconds: float) -> None:
        try:
            self._hold_script(keys=[self.key_prefix + key], args=[max(0, round(seconds * 1_000_000))])
        except redis.RedisError as exc:
            raise SlotStoreUnavailable(str(exc)) from exc

    def close(self) -> None:
        self._redis.close()


class SendRate:
    """``SendRate(store).acquire("sms:campaign:42", 20, stop=event)`` returns when this caller's slot has come.

    Thread-safe; ``fallback`` paces alone while ``store`` is unreachable."""

    RETRY_AFTER_FAILURE_SECONDS = 5.0

    def __init__(self, store: SlotStore, fallback: SlotStore | None = None,
                 sleep: Callable[[float], object] = time.sleep) -> None:
        self._store = store
        self._fallback = fallback or MemorySlotStore()
        self._sleep = sleep
        self._store_down_until = 0.0

    def acquire(self, subject: str, rate_per_second: float, stop: threading.Event | None = None) -> None:
        """Blocks until the next slot of ``subject`` at ``rate_per_second``; raises SendRateStopped if ``stop`` is
        set first (before or while waiting)."""
        if rate_per_second <= 0:
            raise ValueError(f"rate_per_second must be positive, not {rate_per_second}")
        if stop is not None and stop.is_set():
            raise SendRateStopped(subject)
        wait = self._reserve(subject, 1.0 / rate_per_second)
        if wait <= 0:
            return
        if stop is None:
            self._sleep(wait)
        elif stop.wait(wait):
            raise SendRateStopped(subject)

    def hold(self, subject: str, seconds: float) -> None:
        """No slot of ``subject`` for the next ``seconds``, for any replica (e.g. a provider's 429 retry-after);
        callers already given a slot inside that time keep it."""
        if time.monotonic() >= self._store_down_until:
            try:
                self._store.hold(subject, seconds)
                return
            except SlotStoreUnavailable as exc:
                self._store_down_until = time.monotonic() + self.RETRY_AFTER_FAILURE_SECONDS
                get_logger(component="send_rate").warning(
                    "send rate store unavailable, pacing this process alone", subject=subject, error=str(exc))
        self._fallback.hold(subject, seconds)

    def _reserve(self, subject: str, interval: float) -> float:
        if time.monotonic() >= self._store_down_until:
            try:
                return self._store.reserve(subject, interval)
            except SlotStoreUnavailable as exc:
                self._store_down_until = time.monotonic() + self.RETRY_AFTER_FAILURE_SECONDS
                get_logger(component="send_rate").warning(
                    "send rate store unavailable, pacing this process alone", subject=subject, error=str(exc))
        return self._fallback.reserve(subject, interval)


def send_rate_from_url(redis_url: str, key_prefix: str = DEFAULT_KEY_PREFIX) -> SendRate:
    """Shared through Redis when ``redis_url`` is set (REDIS_URL), else this process alone. Connects on first use."""
    if redis_url:
        return SendRate(RedisSlotStore(redis_url, key_prefix))
    return SendRate(MemorySlotStore())

"""Rate limits: how many requests a subject (a user, an IP address, an email address) may make per window.

A ``RateLimiter`` counts hits in a ``LimitStore``: ``RedisLimitStore`` when ``REDIS_URL`` is set, so that every
gateway process counts against the same numbers, else ``MemoryLimitStore`` (one process only, for ``make run``).
Both count a fixed window that opens at the subject's first hit and lasts the limit's period; the count and the
time left come back together, so the 429's ``Retry-After`` is exactly when the window closes.

When Redis cannot be reached, a limit either lets the request through (``fail_open``: the per-user API and send
limits, whose purpose is fairness; an outage of the limiter must not become an outage of the API) or refuses it
with 503 (the one-time-password limits, whose purpose is to stop abuse: sign-in waits for Redis rather than
letting a script mail passwords unchecked). After a failure the store is not tried again for a few seconds, so a
Redis outage does not add a connection timeout to every request.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis

from postman_gateway.core.errors import ErrorCode
from postman_shared.grpc.errors import ServiceError
from postman_shared.logging import get_logger
from postman_shared.settings import Settings

DEFAULT_KEY_PREFIX = "postman:ratelimit:"


@dataclass(frozen=True)
class Limit:
    name: str  # part of the store key and of the log line: "api", "send", "otp-ip", "otp-email"
    count: int  # hits allowed per period
    period_seconds: int
    fail_open: bool  # when the store is unreachable: allow (True) or refuse with 503 (False)
    what: str  # for the 429 message: "requests", "one-time password requests"...
    # For the 503 of a limit that fails closed while the store is unreachable: what cannot be done for a moment.
    unavailable: str = "Sign-in is unavailable for a moment, please try again later"


@dataclass(frozen=True)
class Window:
    hits: int  # hits in the current window, this one included
    reset_after: float  # seconds until the window closes


class LimitStoreUnavailable(Exception):
    pass


class LimitStore(Protocol):
    def hit(self, key: str, period_seconds: int) -> Window:
        """Counts one hit on ``key`` and returns its window (opened now if there was none)."""


class MemoryLimitStore:
    """Windows in a dict guarded by a lock: correct for one process, which is all ``make run`` has."""

    _SWEEP_EVERY = 1000  # hits between removals of closed windows, so the dict does not grow without bound

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, float]] = {}  # key -> (hits, closes_at)
        self._hits_since_sweep = 0

    def hit(self, key: str, period_seconds: int) -> Window:
        now = self._clock()
        with self._lock:
            self._hits_since_sweep += 1
            if self._hits_since_sweep >= self._SWEEP_EVERY:
                self._windows = {k: w for k, w in self._windows.items() if w[1] > now}
                self._hits_since_sweep = 0
            hits, closes_at = self._windows.get(key, (0, 0.0))
            if closes_at <= now:
                hits, closes_at = 0, now + period_seconds
            hits += 1
            self._windows[key] = (hits, closes_at)
        return Window(hits, closes_at - now)


# One round trip, atomic: count the hit, open the window on the first hit, and say how long it has left. The
# PTTL < 0 branch repairs a key that lost its expiry (it cannot happen through this script, but a counter that
# never expired would block its subject for good).
_HIT_SCRIPT = """
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {hits, ttl}
"""


class RedisLimitStore:
    """Windows in Redis, shared by every gateway process. Keys are ``<key_prefix><limit>:<subject>``."""

    RETRY_AFTER_FAILURE_SECONDS = 5.0
    TIMEOUT_SECONDS = 0.5  # a limiter that is slow to answer is treated as down, not waited for

    def __init__(self, url: str, key_prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=self.TIMEOUT_SECONDS,
                                           socket_connect_timeout=self.TIMEOUT_SECONDS)
        self._script = self._redis.register_script(_HIT_SCRIPT)
        self.key_prefix = key_prefix
        self._down_until = 0.0

    def hit(self, key: str, period_seconds: int) -> Window:
        if time.monotonic() < self._down_until:
            raise LimitStoreUnavailable("Redis failed a moment ago")
        try:
            hits, ttl_ms = self._script(keys=[self.key_prefix + key], args=[period_seconds * 1000])
        except redis.RedisError as exc:
            self._down_until = time.monotonic() + self.RETRY_AFTER_FAILURE_SECONDS
            raise LimitStoreUnavailable(str(exc)) from exc
        return Window(int(hits), int(ttl_ms) / 1000)

    def close(self) -> None:
        self._redis.close()


class RateLimiter:
    def __init__(self, store: LimitStore) -> None:
        self.store = store

    def check(self, limit: Limit, subject: str) -> None:
        """Counts a hit of ``subject`` against ``limit``; raises a 429 ``rate_limit`` error with ``retry_after``
        (whole seconds, at least 1) when it is over, or a 503 when the store is down and the limit fails closed."""
        try:
            window = self.store.hit(f"{limit.name}:{subject}", limit.period_seconds)
        except LimitStoreUnavailable as exc:
            log = get_logger(component="rate_limits")
            if limit.fail_open:
                log.warning("rate limit store unavailable, not limiting", limit=limit.name, error=str(exc))
                return
            log.error("rate limit store unavailable, refusing", limit=limit.name, error=str(exc))
            raise ServiceError(ErrorCode.SERVICE_UNAVAILABLE, limit.unavailable) from None
        if window.hits > limit.count:
            retry_after = max(1, math.ceil(window.reset_after))
            raise ServiceError(
                ErrorCode.RATE_LIMIT,
                f"Too many {limit.what}: at most {limit.count} per {_period(limit.period_seconds)}; "
                f"try again in {retry_after} s",
                retry_after=retry_after,
            )


def _period(seconds: int) -> str:
    return {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(seconds, f"{seconds} seconds")


def address_subject(email: str) -> str:
    """The subject for a per-address limit: a hash, so the limit store holds no email addresses."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


@dataclass(frozen=True)
class GatewayLimits:
    """The limits the gateway applies, read from settings."""

    api: Limit
    otp_per_ip: Limit
    otp_per_address: Limit
    default_send_rate: int
    unsubscribe_per_ip: Limit = Limit("unsubscribe-ip", 30, 60, fail_open=True, what="unsubscribe requests")
    protect_per_ip: Limit = Limit("protect-ip", 100, 3600, fail_open=False, what="protected-message opens")
    # SNS's posts of SES events (signed, checked, replay-protected: the limit is about load, so it fails open).
    sns_per_ip: Limit = Limit("sns-ip", 6000, 60, fail_open=True, what="SNS messages from this IP address")
    test_emails_per_campaign: Limit = Limit("test-email", 20, 86400, fail_open=False,
                                            what="test emails for this campaign")
    login_per_ip: Limit = Limit("login-ip", 60, 3600, fail_open=False, what="sign-in attempts")

    @classmethod
    def from_settings(cls, settings: Settings) -> "GatewayLimits":
        return cls(
            api=Limit("api", settings.api_rate_limit, 1, fail_open=True, what="requests"),
            otp_per_ip=Limit("otp-ip", settings.otp_ip_limit_per_hour, 3600, fail_open=False,
                             what="one-time password requests from this IP address"),
            otp_per_address=Limit("otp-email", settings.otp_email_limit_per_hour, 3600, fail_open=False,
                                  what="one-time password requests for this address"),
            default_send_rate=settings.send_rate_limit_default,
            # Recipients' unsubscribe links (signed, so the limit is about load, not abuse: it fails open).
            unsubscribe_per_ip=Limit("unsubscribe-ip", settings.unsubscribe_ip_limit_per_minute, 60, fail_open=True,
                                     what="unsubscribe requests from this IP address"),
            # Password guesses at protected messages: a brute-force limit, so it fails closed (503 without Redis).
            protect_per_ip=Limit("protect-ip", settings.protect_ip_limit_per_hour, 3600, fail_open=False,
                                 what="attempts to open protected messages from this IP address"),
            # Load, not abuse (each message is signed and checked): fails open.
            sns_per_ip=Limit("sns-ip", settings.sns_ip_limit_per_minute, 60, fail_open=True,
                             what="SNS messages from this IP address"),
            # Test emails go to any address the officer types, from the platform's domain: a cap per campaign per
            # day that fails closed (503 without Redis), so a script cannot turn the test into a mailer.
            test_emails_per_campaign=Limit(
                "test-email", settings.test_emails_per_campaign_per_day, 86400, fail_open=False,
                what="test emails for this campaign",
                unavailable="Test emails cannot be sent for a moment, please try again later"),
            # One-time passwords typed: a guessing limit across every address, so it fails closed like the others.
            login_per_ip=Limit("login-ip", settings.login_ip_limit_per_hour, 3600, fail_open=False,
                               what="sign-in attempts from this IP address"),
        )

    def send(self, rate_limit: int) -> Limit:
        """The per-user send limit: the user's own rate (set with ``postmanctl set-rate-limit``) or the default."""
        return Limit("send", rate_limit if rate_limit > 0 else self.default_send_rate, 1, fail_open=True,
                     what="sends")


def store_from_settings(settings: Settings, key_prefix: str = DEFAULT_KEY_PREFIX) -> LimitStore:
    if settings.redis_url:
        return RedisLimitStore(settings.redis_url, key_prefix=key_prefix)
    return MemoryLimitStore()

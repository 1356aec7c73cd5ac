"""``ExpiringCache``: what the senders keep of opened credentials and the renderer of agencies. A value is made once
and kept until it expires; a failure to make one is not kept; ``forget`` and a full cache make values again."""

from __future__ import annotations

import threading

import pytest

from postman_shared.expiring_cache import ExpiringCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Maker:
    """Makes "<key>#<n>", counting the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, key: str) -> str:
        self.calls += 1
        return f"{key}#{self.calls}"


def test_a_value_is_kept_until_it_expires_then_made_again() -> None:
    clock, make = Clock(), Maker()
    cache: ExpiringCache[str, str] = ExpiringCache(300, clock=clock)

    assert cache.get_or_make("a", lambda: make("a")) == "a#1"
    clock.now += 299.9
    assert cache.get_or_make("a", lambda: make("a")) == "a#1"
    clock.now += 0.1  # exactly 300 s after it was made: expired
    assert cache.get_or_make("a", lambda: make("a")) == "a#2"
    assert make.calls == 2


def test_keys_are_kept_apart() -> None:
    make = Maker()
    cache: ExpiringCache[tuple[int, int], str] = ExpiringCache(300, clock=Clock())

    assert cache.get_or_make((1, 7), lambda: make("one")) == "one#1"
    assert cache.get_or_make((1, 8), lambda: make("other owner")) == "other owner#2"
    assert cache.get_or_make((1, 7), lambda: make("one")) == "one#1"


def test_a_value_that_fails_to_be_made_is_not_kept() -> None:
    cache: ExpiringCache[str, str] = ExpiringCache(300, clock=Clock())

    def unreachable() -> str:
        raise ConnectionError("campaign is down")

    with pytest.raises(ConnectionError):
        cache.get_or_make("a", unreachable)
    assert len(cache) == 0
    assert cache.get_or_make("a", lambda: "made") == "made"


def test_forget_makes_the_value_again_at_the_next_ask() -> None:
    make = Maker()
    cache: ExpiringCache[str, str] = ExpiringCache(300, clock=Clock())
    cache.get_or_make("a", lambda: make("a"))

    cache.forget("a")
    cache.forget("never kept")  # nothing to forget: no error

    assert cache.get_or_make("a", lambda: make("a")) == "a#2"


def test_a_full_cache_starts_again_empty_but_a_kept_key_is_replaced_in_place() -> None:
    clock = Clock()
    cache: ExpiringCache[int, int] = ExpiringCache(1, max_entries=3, clock=clock)
    for key in range(3):
        cache.get_or_make(key, lambda key=key: key)
    clock.now += 5  # all expired; remaking a kept key does not empty the cache
    cache.get_or_make(0, lambda: 10)
    assert len(cache) == 3

    cache.get_or_make(99, lambda: 99)  # a fourth key: everything else forgotten

    assert len(cache) == 1
    assert cache.get_or_make(99, lambda: -1) == 99


def test_threads_asking_at_once_all_get_a_value_and_one_is_kept() -> None:
    cache: ExpiringCache[str, int] = ExpiringCache(300)
    start = threading.Barrier(8)
    got: list[int] = []

    def ask(n: int) -> None:
        start.wait()
        got.append(cache.get_or_make("shared", lambda: n))

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(got) == 8 and len(cache) == 1
    assert cache.get_or_make("shared", lambda: -1) in got

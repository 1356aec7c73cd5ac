"""A hold (a provider's "retry after") keeps a subject's next slot back for every caller; it never brings an already
later schedule forward, and a limiter whose store is down holds in its own schedule."""

from __future__ import annotations

import pytest

from postman_sender_telegram.delivery import BotSchedule
from postman_shared.send_rate import MemorySlotStore, SendRate, SlotStoreUnavailable


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_after_a_hold_the_next_slot_is_at_its_end_and_the_following_ones_an_interval_apart():
    store = MemorySlotStore(FakeClock())
    store.hold("telegram:bot:1", 3.0)
    assert [store.reserve("telegram:bot:1", 0.5) for _ in range(3)] == pytest.approx([3.0, 3.5, 4.0])


def test_a_hold_shorter_than_the_schedule_already_taken_changes_nothing():
    store = MemorySlotStore(FakeClock())
    for _ in range(10):
        store.reserve("telegram:bot:1", 1.0)  # the next free slot is 10 s away
    store.hold("telegram:bot:1", 2.0)
    assert store.reserve("telegram:bot:1", 1.0) == pytest.approx(10.0)


def test_a_hold_is_per_subject():
    store = MemorySlotStore(FakeClock())
    store.hold("telegram:bot:1", 5.0)
    assert store.reserve("telegram:bot:2", 1.0) == 0.0


class DownStore:
    def reserve(self, key: str, interval_seconds: float) -> float:
        raise SlotStoreUnavailable("connection refused")

    def hold(self, key: str, seconds: float) -> None:
        raise SlotStoreUnavailable("connection refused")


def test_a_limiter_whose_store_is_down_holds_in_its_own_schedule():
    slept: list[float] = []
    clock = FakeClock()
    rate = SendRate(DownStore(), fallback=MemorySlotStore(clock), sleep=slept.append)
    rate.hold("telegram:bot:1", 2.0)
    rate.acquire("telegram:bot:1", 30)
    assert slept == pytest.approx([2.0])


def test_a_bots_rate_is_the_campaigns_when_lower_and_never_above_the_maximum():
    schedule = BotSchedule(SendRate(MemorySlotStore()), max_rate=30)
    assert [schedule.rate(None), schedule.rate(10), schedule.rate(30), schedule.rate(100)] == [30, 10, 30, 30]
    assert BotSchedule.subject(123456) == "telegram:bot:123456"

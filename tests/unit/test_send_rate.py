"""The send rate gives each caller of a subject its own slot, one interval after the previous one, in order."""

from __future__ import annotations

import threading
import time

import pytest

from postman_shared.send_rate import MemorySlotStore, SendRate, SendRateStopped, SlotStoreUnavailable


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_slot_is_now_and_each_next_one_an_interval_later():
    clock = FakeClock()
    store = MemorySlotStore(clock)
    assert [store.reserve("sms:campaign:1", 0.1) for _ in range(4)] == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_a_subject_that_was_idle_gets_a_slot_at_once_without_a_burst_of_saved_slots():
    clock = FakeClock()
    store = MemorySlotStore(clock)
    store.reserve("sms:campaign:1", 0.5)
    clock.now += 10
    assert store.reserve("sms:campaign:1", 0.5) == 0.0
    assert store.reserve("sms:campaign:1", 0.5) == pytest.approx(0.5)


def test_subjects_have_separate_schedules():
    store = MemorySlotStore(FakeClock())
    store.reserve("sms:campaign:1", 1.0)
    assert store.reserve("sms:campaign:2", 1.0) == 0.0


def test_acquire_sleeps_until_the_reserved_slot():
    slept: list[float] = []
    rate = SendRate(MemorySlotStore(FakeClock()), sleep=slept.append)
    for _ in range(3):
        rate.acquire("sms:campaign:1", 20)
    assert slept == pytest.approx([0.05, 0.1])


def test_acquire_refuses_a_rate_that_is_not_positive():
    with pytest.raises(ValueError, match="rate_per_second must be positive"):
        SendRate(MemorySlotStore()).acquire("sms:campaign:1", 0)


def test_a_stop_event_ends_the_wait_for_a_slot():
    rate = SendRate(MemorySlotStore())
    rate.acquire("sms:campaign:1", 0.01)  # the next slot is 100 s away
    stop = threading.Event()
    threading.Timer(0.05, stop.set).start()
    with pytest.raises(SendRateStopped):
        rate.acquire("sms:campaign:1", 0.01, stop)


def test_an_unreachable_store_falls_back_to_pacing_in_process():
    class DownStore:
        def reserve(self, key: str, interval_seconds: float) -> float:
            raise SlotStoreUnavailable("connection refused")

    slept: list[float] = []
    rate = SendRate(DownStore(), fallback=MemorySlotStore(FakeClock()), sleep=slept.append)
    rate.acquire("sms:campaign:1", 10)
    rate.acquire("sms:campaign:1", 10)
    assert slept == pytest.approx([0.1])


def test_threads_sharing_a_subject_take_at_least_one_interval_per_slot():
    rate = SendRate(MemorySlotStore())
    count, per_second = 12, 40
    start = time.monotonic()
    threads = [threading.Thread(target=lambda: [rate.acquire("sms:campaign:1", per_second) for _ in range(3)])
               for _ in range(count // 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - start >= (count - 1) / per_second

"""The batch-time histogram can tell a normal SMS or Telegram batch from a stuck one: its buckets reach past the time a
full batch takes at the default rates, with a bucket near that time rather than only +Inf."""

from __future__ import annotations

from postman_shared.broker.consumer import BATCH_SECONDS
from postman_shared.settings import Settings


def buckets() -> list[float]:
    return [float(bound) for bound in BATCH_SECONDS._upper_bounds if bound != float("inf")]  # noqa: SLF001


def batch_time(messages: int, per_second: float) -> float:
    return messages / per_second


def test_a_full_sms_or_telegram_batch_at_the_default_rate_lands_in_a_finite_bucket_near_its_time():
    settings = Settings()
    for per_second in (settings.sms_default_rate, settings.telegram_max_rate, 1.0):  # 1/s: the slowest send rate
        expected = batch_time(settings.sender_batch_size, per_second)
        fitting = [bound for bound in buckets() if bound >= expected]
        assert fitting, f"a {expected:.0f} s batch falls in +Inf"
        assert fitting[0] <= 2.5 * expected, f"nearest bucket {fitting[0]} s for a {expected:.0f} s batch"


def test_one_time_password_batches_are_still_resolved_in_milliseconds():
    assert min(buckets()) <= 0.01

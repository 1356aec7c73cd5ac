"""The retry path of messages the provider could not take for a passing reason (an outage, throttling).

Permanent refusals fail at once. A transient failure, once the transport's own couple of quick retries are spent, is
not recorded: the message is published again, same body and message id, to the wait queue ``email.send.retry`` with
the next attempt number in a header and a TTL of ``EMAIL_RETRY_DELAY_SECONDS``; when the TTL runs out RabbitMQ
dead-letters it back to ``email.send``. The ``EMAIL_MAX_ATTEMPTS``-th transient failure is recorded as a permanent
ERROR that says how many times the message failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from postman_sender_email.transports import Outcome
from postman_shared.broker import OutgoingMessage
from postman_shared.broker.topology import EMAIL_SEND_RETRY
from postman_shared.broker.waiting import ATTEMPT_HEADER, attempt_of, with_attempt
from postman_shared.logging import get_logger
from postman_shared.messages import RenderedEmail

log = get_logger(component="retry")

__all__ = ["ATTEMPT_HEADER", "OutageBackoff", "RetryPolicy", "attempt_of", "gave_up", "with_attempt"]



@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    delay_seconds: int = 30

    def gives_up(self, attempt: int) -> bool:
        """Whether a transient failure on this attempt is the last one allowed."""
        return attempt >= self.max_attempts

    def next_attempt(self, email: RenderedEmail, attempt: int) -> OutgoingMessage:
        """The message to park in the wait queue so that it comes back to ``email.send`` after the delay."""
        return OutgoingMessage(
            EMAIL_SEND_RETRY, email.to_dict(), email.message_id,
            headers={ATTEMPT_HEADER: attempt + 1}, expiration_ms=self.delay_seconds * 1000,
        )


def gave_up(outcome: Outcome, attempts: int) -> Outcome:
    """The permanent ERROR of a message that failed transiently on every one of its attempts."""
    return Outcome.error(
        outcome.message_id, outcome.error_code or "unavailable",
        f"Failed {attempts} time{'' if attempts == 1 else 's'} because the provider was unavailable; "
        f"the last time: {outcome.reason}",
    )


class OutageBackoff:
    """Slows the consumer down while the provider is down, so an outage does not burn every queued message's attempts.

    After a batch in which every message sent failed transiently, the consumer pauses: 1 s, then twice as long
    after each such batch in a row, never longer than ``longest`` (no point waiting longer than the retry delay,
    retried messages come back by then). Any batch that reached the provider resets it.
    """

    def __init__(self, pause: Callable[[float], object], longest: float, first: float = 1.0) -> None:
        self._pause = pause
        self._longest = max(longest, 0.0)
        self._first = min(first, self._longest)
        self._next = self._first

    def after_batch(self, provider_unavailable: bool) -> float:
        """Pauses if the batch met an outage; returns how long it asked to pause (0 if it did not)."""
        if not provider_unavailable:
            self._next = self._first
            return 0.0
        seconds = self._next
        self._next = min(self._next * 2, self._longest)
        log.warning("the provider is unavailable for a whole batch, pausing", seconds=seconds)
        self._pause(seconds)
        return seconds

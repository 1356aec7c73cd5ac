"""A client webhook attempt's outcome is one ``WebhookAttemptOutcome`` (shared by ``postman_shared.client_webhooks``
and stats, which stores it), with the strings stored and shown today."""

from __future__ import annotations

from postman_shared.client_webhooks import Attempt, WebhookAttemptOutcome
from postman_stats import statuses


def test_the_values_are_the_stored_strings() -> None:
    assert [outcome.value for outcome in WebhookAttemptOutcome] == ["delivered", "failed", "refused", "expired"]
    assert statuses.WebhookAttemptOutcome is WebhookAttemptOutcome


def test_an_attempt_says_its_outcome() -> None:
    def attempt(delivered: bool, refused: bool = False) -> Attempt:
        return Attempt(delivered=delivered, status_code=None, error="", duration_ms=1, refused=refused)

    assert attempt(True).outcome is WebhookAttemptOutcome.DELIVERED
    assert attempt(False).outcome is WebhookAttemptOutcome.FAILED
    assert attempt(False, refused=True).outcome is WebhookAttemptOutcome.REFUSED
    assert attempt(False).outcome == "failed"  # a plain string compares equal, as before

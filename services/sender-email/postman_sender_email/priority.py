"""Delivering priority emails (one-time passwords): never behind a campaign, sent at most once, recorded once.

They come on their own queue, ``email.priority``, to their own consumer thread with its own transport connection,
so however many campaign messages wait on ``email.send``, a priority email does not queue behind them.

1. One query finds the messages of the batch already in ``email_deliveries`` (a redelivery): not sent again.
2. The rest go through the transport. A failure for a passing reason is tried again within a few seconds, inside
   the handler: someone is waiting for the password, and the campaign path's wait queue would make them wait
   ``EMAIL_RETRY_DELAY_SECONDS`` per attempt. After the last try it is an ERROR (they can ask for a new password).
3. The outcomes are inserted in one statement, ``campaign_id`` NULL. No DeliveryEvent: stats counts campaigns only.

Campaigns' test emails (``email.test``) go through the same steps on a consumer and a transport connection of
their own, counted in their own metric: however many an officer asks for, a one-time password never waits behind
them. A test email asked with a test API key is ``simulated``: ``delivery.send`` records a simulated outcome and the
transport is never called.

Logs name a message by its id and its recipient's domain only: the body holds a password.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prometheus_client import Counter

from postman_sender_email import mime
from postman_sender_email.delivery import record, recorded_outcomes, send
from postman_sender_email.metrics import PRIORITY_MESSAGES
from postman_sender_email.send_retry_policy import gave_up
from postman_sender_email.transports import EmailTransport, Outcome
from postman_shared.db import Database
from postman_shared.logging import get_logger
from postman_shared.messages import PriorityEmail
from postman_shared.outcomes import MessageStatus

log = get_logger(component="priority")


@dataclass(frozen=True)
class QuickRetry:
    """How long to wait before each further try of a priority email that failed for a passing reason."""

    pauses: tuple[float, ...] = (1.0, 3.0)  # three tries within about five seconds

    @property
    def tries(self) -> int:
        return len(self.pauses) + 1


def deliver(
    emails: Sequence[PriorityEmail],
    database: Database,
    transport: EmailTransport,
    retry: QuickRetry,
    pause: Callable[[float], object],
    metric: Counter = PRIORITY_MESSAGES,
) -> dict[str, Outcome]:
    """Sends what was not sent before and records it; returns the outcome of each message sent now, by message id.

    ``pause(seconds)`` waits between tries (the consumer's own pause, which keeps the broker connection alive).
    ``metric`` counts the outcomes (``TEST_EMAIL_MESSAGES`` for the test emails' consumer).
    """
    unique = list({email.message_id: email for email in reversed(emails)}.values())[::-1]
    with database.session() as session:
        recorded = recorded_outcomes(session, [email.message_id for email in unique])
    for email in unique:
        if email.message_id in recorded:
            log.info("priority email already delivered, not sent again", message_id=email.message_id,
                     status=recorded[email.message_id].status)
    fresh = [email for email in unique if email.message_id not in recorded]

    outcomes = _send_with_quick_retries(fresh, transport, retry, pause, metric)
    final = {message_id: gave_up(o, retry.tries) if o.transient else o for message_id, o in outcomes.items()}
    if final:
        with database.unit_of_work() as session:
            record(session, fresh, final)

    for email in fresh:
        outcome = final[email.message_id]
        metric.labels(transport="simulated" if email.simulated else transport.name, status=outcome.status).inc()
        if outcome.status == MessageStatus.SENT:
            log.info("priority email sent", message_id=email.message_id, domain=_domain(email.to),
                     simulated=email.simulated)
        else:
            # The reason is in email_deliveries; a provider's reason may quote the address, so it is not logged.
            log.error("priority email failed", message_id=email.message_id, domain=_domain(email.to),
                      error_code=outcome.error_code)
    return final


def _send_with_quick_retries(
    emails: list[PriorityEmail], transport: EmailTransport, retry: QuickRetry, pause: Callable[[float], object],
    metric: Counter,
) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    pending = emails
    for seconds in (*retry.pauses, None):
        outcomes.update(send(pending, transport))
        pending = [email for email in pending if outcomes[email.message_id].transient]
        if not pending or seconds is None:
            break
        metric.labels(transport=transport.name, status="RETRY").inc(len(pending))
        log.warning("priority emails failed for a passing reason, trying again", seconds=seconds,
                    message_ids=[email.message_id for email in pending])
        pause(seconds)
    return outcomes


def _domain(address: str) -> str:
    """The domain of a recipient address (``"Name <a@b>"`` or ``"a@b"``), which is all a log may say of it."""
    return mime.mailbox(address)[0].rpartition("@")[2].lower() or "(none)"

"""Delivering a batch of rendered emails: the shared skeleton (``postman_shared.sender_pipeline``) with the email
transport as its provider, and email's own retry of passing failures.

A message the provider could not take for a passing reason, with attempts left, is neither recorded nor announced:
it goes to the wait queue to come back later (``send_retry_policy``). A transient failure on the last attempt
becomes a permanent ERROR. Unsafe addresses never reach the transport, and a test key's message is simulated.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from postman_sender_email import mime
from postman_sender_email.metrics import MESSAGES, SUPPRESSED_MESSAGES
from postman_sender_email.models import EmailDelivery
from postman_sender_email.send_retry_policy import RetryPolicy, gave_up
from postman_sender_email.transports import Email, EmailTransport, Outcome, campaign_of
from postman_shared.broker import OutgoingMessage, Publisher
from postman_shared.db import Database
from postman_shared.delivery_log import WITHHELD, DeliveryLog
from postman_shared.logging import get_logger
from postman_shared.messages import RenderedEmail
from postman_shared.outcomes import MessageStatus
from postman_shared.screening import BatchScreen
from postman_shared.sender_pipeline import DeliveredBatch, ProviderAdapter, deliver_batch
from postman_shared.simulation import simulated_outcome

log = get_logger(component="delivery")

DELIVERIES = DeliveryLog(EmailDelivery, provider_id_length=255)


@dataclass(frozen=True)
class BatchReport:
    sent: int
    errored: int
    retrying: int  # failed for a passing reason, parked in the wait queue for a later attempt
    announced_again: int
    provider_unavailable: bool  # every message handed to the transport failed for a passing reason
    suppressed: int = 0  # not sent: the recipient is on the suppression list
    withheld: int = 0  # not sent: the job was stopped


class CampaignEmails(ProviderAdapter[RenderedEmail]):
    """The email transport as a batch's provider; ``attempts`` says which attempt each message id is on (1 when
    missing)."""

    channel = "email"
    deliveries = DELIVERIES

    def __init__(self, transport: EmailTransport, retry: RetryPolicy, attempts: Mapping[str, int]) -> None:
        self.transport = transport
        self.retry = retry
        self.attempts = attempts

    def attempt(self, email: RenderedEmail) -> int:
        return self.attempts.get(email.message_id, 1)

    def send(self, due: Sequence[RenderedEmail], screen: BatchScreen | None) -> dict[str, Outcome]:
        return send(due, self.transport, screen.proceed if screen is not None else None)

    def settle(self, email: RenderedEmail, outcome: Outcome) -> Outcome | None:
        """None (parked for a later attempt) for a passing failure with attempts left; the last one gives up."""
        if not outcome.transient:
            return outcome
        attempt = self.attempt(email)
        return gave_up(outcome, attempt) if self.retry.gives_up(attempt) else None

    def put_back(self, emails: Sequence[RenderedEmail]) -> list[OutgoingMessage]:
        """To the wait queue, with the next attempt number: back on ``email.send`` after the retry delay."""
        return [self.retry.next_attempt(email, self.attempt(email)) for email in emails]

    def account(self, batch: DeliveredBatch[RenderedEmail]) -> None:
        statuses = {**{m.message_id: "RETRY" for m in batch.unfinished},
                    **{message_id: outcome.status for message_id, outcome in batch.final.items()}}
        for message_id, status in statuses.items():
            if message_id in batch.suppressed:
                SUPPRESSED_MESSAGES.labels(status=status).inc()
            else:
                MESSAGES.labels(transport=self.transport.name, status=status).inc()
        if batch.withheld:
            SUPPRESSED_MESSAGES.labels(status=WITHHELD).inc(len(batch.withheld))
        withheld = {message_id: batch.outcomes[message_id] for message_id in batch.withheld}
        _log_batch(batch.messages, {**batch.final, **withheld}, {m.message_id for m in batch.unfinished},
                   self.transport.name)


def deliver(
    emails: Sequence[RenderedEmail],
    database: Database,
    transport: EmailTransport,
    publisher: Publisher,
    retry: RetryPolicy = RetryPolicy(),
    attempts: Mapping[str, int] | None = None,
    screen: BatchScreen | None = None,
    wait: Callable[[float], bool] | None = None,
) -> BatchReport:
    """Sends what was not sent before, records it, parks what may succeed later, then announces what was recorded.

    ``attempts`` says which attempt each message id is on (1 when missing). Without ``screen`` nothing is screened
    (tests of the transport alone). The record of what the transport accepted is tried again while the database is
    unreachable (``wait``: the consumer's pause), since failing would send those emails again.
    """
    batch = deliver_batch(emails, CampaignEmails(transport, retry, attempts or {}), database, publisher, screen, wait)
    handed = [o for message_id, o in batch.outcomes.items()
              if message_id not in batch.suppressed and message_id not in batch.withheld]
    return BatchReport(
        sent=sum(o.status == MessageStatus.SENT for o in batch.final.values()),
        errored=sum(o.status == MessageStatus.ERROR for o in batch.final.values()),
        retrying=len(batch.unfinished),
        announced_again=batch.announced_again,
        provider_unavailable=bool(handed) and all(o.transient for o in handed),
        suppressed=len(batch.suppressed),
        withheld=len(batch.withheld),
    )


def _log_batch(emails: list[RenderedEmail], final: dict[str, Outcome], waiting: set[str], transport: str) -> None:
    """One line per job of the batch (a batch rarely spans more than one)."""
    tallies: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)
    for email in emails:
        outcome = final.get(email.message_id)
        if email.message_id in waiting:
            kind = "retrying"
        else:
            kind = outcome.status if outcome else "announced_again"
        tallies[(email.campaign_id, email.job_id)][kind] += 1
    for (campaign_id, job_id), tally in tallies.items():
        log.info("batch delivered", campaign_id=campaign_id, job_id=job_id, transport=transport,
                 sent=tally[MessageStatus.SENT], errored=tally[MessageStatus.ERROR], retrying=tally["retrying"],
                 suppressed=tally[MessageStatus.BLACKLISTED] + tally[MessageStatus.UNSUBSCRIBED],
                 withheld=tally[WITHHELD],
                 announced_again=tally["announced_again"])


def send(emails: Sequence[Email], transport: EmailTransport,
         proceed: Callable[[RenderedEmail], bool] | None = None) -> dict[str, Outcome]:
    """The transport's outcome of each message, keyed by message id; unsafe addresses never reach it. ``proceed``
    is asked right before each campaign message is handed over (False: its job was stopped, it is withheld)."""
    outcomes: dict[str, Outcome] = {}
    sendable = []
    for email in emails:
        if mime.has_line_break(email.to) or mime.has_line_break(email.sender) or mime.has_line_break(email.reply_to):
            outcomes[email.message_id] = Outcome.error(
                email.message_id, "invalid_recipient", "An address of this message contains a line break")
        elif getattr(email, "simulated", False):
            # A test API key's message: everything up to here was real; the transport is never called.
            outcomes[email.message_id] = simulated_outcome(email.message_id, email.to)
        else:
            sendable.append(email)
    if sendable:
        for email, outcome in zip(sendable, transport.send_batch(sendable, proceed), strict=True):
            outcomes[email.message_id] = outcome
    return outcomes


def recorded_outcomes(session: Session, message_ids: list[str]) -> dict[str, Outcome]:
    """The outcomes already in ``email_deliveries`` of these message ids (one query)."""
    return DELIVERIES.recorded(session, message_ids)


def record(session: Session, emails: Sequence[Email], outcomes: dict[str, Outcome]) -> dict[str, Outcome]:
    """Inserts the outcomes; where another consumer recorded a message first, its outcome is the one that counts."""
    return DELIVERIES.record(session, [(email.message_id, campaign_of(email), recipient_of(email)) for email in emails],
                             outcomes)


def recipient_of(email: Email) -> int | None:
    return email.recipient_id if isinstance(email, RenderedEmail) else None


"""Delivering a batch of rendered emails, at least once and recorded exactly once.

1. One query finds the messages of the batch whose outcome is already in ``email_deliveries`` (a redelivery after a
   crash, or a duplicate publish): they are not sent again, but their recorded outcome is announced again, because
   the crash may have happened between the commit and the publish (stats ignores a duplicate event).
2. The rest are screened (``postman_shared.screening``): messages of a stopped job are withheld (left unsent), a
   retry's message to a recipient sent before is announced as sent, and a suppressed recipient's message is
   recorded BLACKLISTED or UNSUBSCRIBED without reaching the transport. What is left goes through the transport,
   which asks again right before each message whether its job has been stopped since.
3. A message the provider could not take for a passing reason, with attempts left, is neither recorded nor
   announced: it goes to the wait queue to come back later (``retry``). Every other outcome (a transient failure on
   the last attempt becomes a permanent ERROR) is inserted in one multi-row statement and committed.
4. Only then are the retries and the DeliveryEvents published, with one confirm wait for the batch.
When this returns, the batch may be acked.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from postman_sender_email import mime
from postman_sender_email.metrics import MESSAGES, SUPPRESSED_MESSAGES
from postman_sender_email.models import EmailDelivery
from postman_sender_email.retry import RetryPolicy, gave_up
from postman_sender_email.transports import Email, EmailTransport, Outcome, campaign_of
from postman_shared.broker import Publisher
from postman_shared.db import Database
from postman_shared.delivery_events import delivery_event_messages
from postman_shared.delivery_log import WITHHELD, DeliveryLog
from postman_shared.logging import get_logger
from postman_shared.messages import DeliveryEvent, RenderedEmail
from postman_shared.screening import BatchScreen
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
    attempts = attempts or {}

    def attempt(email: RenderedEmail) -> int:
        return attempts.get(email.message_id, 1)

    unique = list({email.message_id: email for email in reversed(emails)}.values())[::-1]
    with database.session() as session:
        recorded = recorded_outcomes(session, [email.message_id for email in unique])

    fresh = [email for email in unique if email.message_id not in recorded]
    suppressed: dict[str, Outcome] = {}
    if screen is not None:
        screened = screen.screen(fresh, database, DELIVERIES)
        recorded.update(screened.already_sent)
        suppressed = screened.suppressed
        outcomes = send(screened.due, transport, screen.proceed)
        outcomes.update(screened.not_handed_over)
        fresh = [email for email in fresh if email.message_id not in screened.already_sent]
    else:
        outcomes = send(fresh, transport)
    withheld = {message_id for message_id, outcome in outcomes.items() if outcome.status == WITHHELD}
    fresh = [email for email in fresh if email.message_id not in withheld]

    waiting = [
        email for email in fresh
        if outcomes[email.message_id].transient and not retry.gives_up(attempt(email))
    ]
    waiting_ids = {email.message_id for email in waiting}
    finished = [email for email in fresh if email.message_id not in waiting_ids]
    final = {email.message_id: _final(outcomes[email.message_id], attempt(email)) for email in finished}
    if final:
        recorded.update(database.unit_of_work_retried(lambda session: record(session, finished, final),
                                                      wait=wait, what="record email outcomes"))

    parked = [retry.next_attempt(email, attempt(email)) for email in waiting]
    events = [_event(email, recorded[email.message_id]) for email in unique
              if email.message_id not in waiting_ids and email.message_id in recorded]
    publisher.publish(parked + delivery_event_messages(events))

    for email in fresh:
        status = "RETRY" if email.message_id in waiting_ids else final[email.message_id].status
        if email.message_id in suppressed:
            SUPPRESSED_MESSAGES.labels(status=status).inc()
        else:
            MESSAGES.labels(transport=transport.name, status=status).inc()
    if withheld:
        SUPPRESSED_MESSAGES.labels(status=WITHHELD).inc(len(withheld))
    handed = [o for message_id, o in outcomes.items() if message_id not in suppressed and message_id not in withheld]
    report = BatchReport(
        sent=sum(o.status == "SENT" for o in final.values()),
        errored=sum(o.status == "ERROR" for o in final.values()),
        retrying=len(waiting),
        announced_again=len(unique) - len(fresh) - len(withheld),
        provider_unavailable=bool(handed) and all(o.transient for o in handed),
        suppressed=len(suppressed),
        withheld=len(withheld),
    )
    _log_batch(unique, {**final, **{m: outcomes[m] for m in withheld}}, waiting_ids, transport.name)
    return report


def _final(outcome: Outcome, attempt: int) -> Outcome:
    return gave_up(outcome, attempt) if outcome.transient else outcome


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
                 sent=tally["SENT"], errored=tally["ERROR"], retrying=tally["retrying"],
                 suppressed=tally["BLACKLISTED"] + tally["UNSUBSCRIBED"], withheld=tally[WITHHELD],
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


def _event(email: RenderedEmail, outcome: Outcome) -> DeliveryEvent:
    return DeliveryEvent(
        recipient_id=email.recipient_id, campaign_id=email.campaign_id, job_id=email.job_id,
        status=outcome.status, error_code=outcome.error_code, reason=outcome.reason,
    )

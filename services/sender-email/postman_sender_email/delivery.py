"""Delivering a batch of rendered emails, at least once and recorded exactly once.

1. One query finds the messages of the batch whose outcome is already in ``email_deliveries`` (a redelivery after a
   crash, or a duplicate publish): they are not sent again, but their recorded outcome is announced again, because
   the crash may have happened between the commit and the publish (stats ignores a duplicate event).
2. The rest go through the transport.
3. Their outcomes are inserted in one multi-row statement and committed.
4. Only then are the DeliveryEvents published, with one confirm wait for the batch.
When this returns, the batch may be acked.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from postman_sender_email import mime
from postman_sender_email.metrics import MESSAGES
from postman_sender_email.models import EmailDelivery
from postman_sender_email.transports import EmailTransport, Outcome
from postman_shared.broker import OutgoingMessage, Publisher
from postman_shared.broker.topology import DELIVERY_EVENTS
from postman_shared.db import Database
from postman_shared.logging import get_logger
from postman_shared.messages import DeliveryEvent, RenderedEmail

log = get_logger(component="delivery")

_RECORDED = text(
    "SELECT message_id, status, error_code, error_reason FROM email_deliveries WHERE message_id = ANY(:ids)"
)


@dataclass(frozen=True)
class BatchReport:
    sent: int
    errored: int
    announced_again: int


def deliver(
    emails: Sequence[RenderedEmail], database: Database, transport: EmailTransport, publisher: Publisher
) -> BatchReport:
    """Sends what was not sent before, records it, then announces every message's outcome."""
    unique = list({email.message_id: email for email in reversed(emails)}.values())[::-1]
    with database.session() as session:
        recorded = _recorded_outcomes(session, [email.message_id for email in unique])

    fresh = [email for email in unique if email.message_id not in recorded]
    outcomes = _send(fresh, transport)

    if outcomes:
        with database.unit_of_work() as session:
            recorded.update(_record(session, fresh, outcomes))

    events = [_event(email, recorded[email.message_id]) for email in unique]
    publisher.publish([OutgoingMessage(DELIVERY_EVENTS, event.to_dict(), event.message_id) for event in events])

    report = BatchReport(
        sent=sum(o.status == "SENT" for o in outcomes.values()),
        errored=sum(o.status == "ERROR" for o in outcomes.values()),
        announced_again=len(unique) - len(fresh),
    )
    _log_batch(unique, outcomes, transport.name)
    return report


def _log_batch(emails: list[RenderedEmail], outcomes: dict[str, Outcome], transport: str) -> None:
    """One line per job of the batch (a batch rarely spans more than one)."""
    tallies: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)
    for email in emails:
        outcome = outcomes.get(email.message_id)
        tallies[(email.campaign_id, email.job_id)][outcome.status if outcome else "announced_again"] += 1
    for (campaign_id, job_id), tally in tallies.items():
        log.info("batch delivered", campaign_id=campaign_id, job_id=job_id, transport=transport,
                 sent=tally["SENT"], errored=tally["ERROR"], announced_again=tally["announced_again"])


def _send(emails: list[RenderedEmail], transport: EmailTransport) -> dict[str, Outcome]:
    """The transport's outcome of each message, keyed by message id; unsafe addresses never reach it."""
    outcomes: dict[str, Outcome] = {}
    sendable = []
    for email in emails:
        if mime.has_line_break(email.to) or mime.has_line_break(email.sender) or mime.has_line_break(email.reply_to):
            outcomes[email.message_id] = Outcome.error(
                email.recipient_id, "invalid_recipient", "An address of this message contains a line break")
        else:
            sendable.append(email)
    if sendable:
        for email, outcome in zip(sendable, transport.send_batch(sendable), strict=True):
            outcomes[email.message_id] = outcome
    for outcome in outcomes.values():
        MESSAGES.labels(transport=transport.name, status=outcome.status).inc()
    return outcomes


def _recorded_outcomes(session: Session, message_ids: list[str]) -> dict[str, Outcome]:
    if not message_ids:
        return {}
    rows = session.execute(_RECORDED, {"ids": message_ids})
    return {
        row.message_id: Outcome(int(row.message_id), row.status, row.error_code, row.error_reason)
        for row in rows
    }


def _record(session: Session, emails: list[RenderedEmail], outcomes: dict[str, Outcome]) -> dict[str, Outcome]:
    """Inserts the outcomes; where another consumer recorded a message first, its outcome is the one that counts."""
    rows = [
        {
            "message_id": email.message_id,
            "campaign_id": email.campaign_id,
            "status": outcomes[email.message_id].status,
            "error_code": outcomes[email.message_id].error_code,
            "error_reason": outcomes[email.message_id].reason,
            "provider_message_id": (outcomes[email.message_id].provider_message_id or "")[:255] or None,
        }
        for email in emails
    ]
    statement = (
        insert(EmailDelivery).values(rows).on_conflict_do_nothing(index_elements=["message_id"])
        .returning(EmailDelivery.message_id)
    )
    inserted = set(session.execute(statement).scalars())
    result = {message_id: outcomes[message_id] for message_id in inserted}
    lost = [email.message_id for email in emails if email.message_id not in inserted]
    if lost:
        result.update(_recorded_outcomes(session, lost))
    return result


def _event(email: RenderedEmail, outcome: Outcome) -> DeliveryEvent:
    return DeliveryEvent(
        recipient_id=email.recipient_id, campaign_id=email.campaign_id, job_id=email.job_id,
        status=outcome.status, error_code=outcome.error_code, reason=outcome.reason,
    )

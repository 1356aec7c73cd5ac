"""What every sender records about the messages it handed to its provider, and how it recognises a redelivery.

Each sender owns one table with the same columns (message_id primary key, campaign_id, status, error_code,
error_reason, provider_message_id). Both operations are one statement per batch: a lookup of the ids already
recorded, and a multi-row insert that keeps whichever outcome was recorded first (another consumer may have raced).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from postman_shared.messages import DeliveryEvent

SENT = "SENT"
ERROR = "ERROR"


@dataclass(frozen=True)
class Outcome:
    """What the provider said about one message."""

    message_id: str  # the queue message's id: the recipient id of a campaign message
    status: str  # SENT | ERROR
    error_code: str | None = None
    reason: str | None = None
    provider_message_id: str | None = None
    transient: bool = False  # an ERROR for a passing reason (outage, throttling): worth another attempt later

    @classmethod
    def sent(cls, message_id: str, provider_message_id: str | None = None) -> "Outcome":
        return cls(message_id, SENT, provider_message_id=provider_message_id)

    @classmethod
    def error(cls, message_id: str, code: str, reason: str) -> "Outcome":
        return cls(message_id, ERROR, error_code=code[:64], reason=reason)

    @classmethod
    def unavailable(cls, message_id: str, code: str, reason: str) -> "Outcome":
        """The provider could not take the message now, even after the transport's own quick retries."""
        return cls(message_id, ERROR, error_code=code[:64], reason=reason, transient=True)


class DeliveryLog:
    """The outcomes table of one sender (``model`` is its SQLAlchemy model)."""

    def __init__(self, model: Any, provider_id_length: int) -> None:
        table = model.__table__
        self._provider_id_length = provider_id_length
        self._recorded = text(
            f"SELECT message_id, status, error_code, error_reason FROM {table.name} "  # noqa: S608 - a model's name
            "WHERE message_id = ANY(:ids)"
        )
        # Rows as parameters, not .values(rows): compiled once and cached, still sent as multi-row INSERTs.
        self._insert = insert(table).on_conflict_do_nothing(index_elements=["message_id"]).returning(
            table.c.message_id)

    def recorded(self, session: Session, message_ids: Sequence[str]) -> dict[str, Outcome]:
        """The outcomes already recorded for these message ids (one query)."""
        if not message_ids:
            return {}
        rows = session.execute(self._recorded, {"ids": list(message_ids)})
        return {row.message_id: Outcome(row.message_id, row.status, row.error_code, row.error_reason) for row in rows}

    def record(self, session: Session, messages: Sequence[tuple[str, int | None]],
               outcomes: dict[str, Outcome]) -> dict[str, Outcome]:
        """Inserts the outcome of each (message_id, campaign_id); where another consumer recorded a message first,
        its outcome is the one returned, so the announced outcome always matches the table."""
        rows = [
            {
                "message_id": message_id,
                "campaign_id": campaign_id,
                "status": outcomes[message_id].status,
                "error_code": outcomes[message_id].error_code,
                "error_reason": outcomes[message_id].reason,
                "provider_message_id": (outcomes[message_id].provider_message_id or "")[:self._provider_id_length]
                or None,
            }
            for message_id, campaign_id in messages
        ]
        inserted = set(session.execute(self._insert, rows).scalars())
        result = {message_id: outcomes[message_id] for message_id in inserted}
        lost = [message_id for message_id, _ in messages if message_id not in inserted]
        if lost:
            result.update(self.recorded(session, lost))
        return result


class CampaignMessage(Protocol):
    """What the senders' campaign messages (RenderedSms, RenderedTelegram) have in common here."""

    recipient_id: int
    campaign_id: int
    job_id: int

    @property
    def message_id(self) -> str: ...


def delivery_event(message: CampaignMessage, outcome: Outcome) -> DeliveryEvent:
    """The DeliveryEvent announcing a message's recorded outcome to stats."""
    return DeliveryEvent(
        recipient_id=message.recipient_id, campaign_id=message.campaign_id, job_id=message.job_id,
        status=outcome.status, error_code=outcome.error_code, reason=outcome.reason,
    )


def log_batch(log: Any, messages: Sequence[CampaignMessage], outcomes: dict[str, Outcome], put_back: set[str]) -> None:
    """One line per job of a delivered batch (a batch rarely spans more than one): sent, errored, announced again
    (recorded before: a redelivery) and put back (not sent: the sender is stopping)."""
    tallies: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)
    for message in messages:
        outcome = outcomes.get(message.message_id)
        kind = outcome.status if outcome else "put_back" if message.message_id in put_back else "announced_again"
        tallies[(message.campaign_id, message.job_id)][kind] += 1
    for (campaign_id, job_id), tally in tallies.items():
        log.info("batch delivered", campaign_id=campaign_id, job_id=job_id, sent=tally[SENT], errored=tally[ERROR],
                 announced_again=tally["announced_again"], put_back=tally["put_back"])

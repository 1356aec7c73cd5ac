"""What every sender records about the messages it handed to its provider, and how it recognises a redelivery.

Each sender owns one table with the same columns (message_id primary key, campaign_id, recipient_id, status,
error_code, error_reason, provider_message_id). Each operation is one statement per batch: a lookup of the ids
already recorded, a multi-row insert that keeps whichever outcome was recorded first (another consumer may have
raced), and, for a retry's messages, a lookup of the recipients whose earlier message was sent.

That last one is what makes a resumed campaign send each message once even when stats is behind: the renderer
publishes a retry's message for every recipient stats has no outcome for yet, and a recipient whose message this
sender already handed over (SENT in its table, under the first job's id) is announced as sent again instead of being
sent twice. A receipt that reports the message failed (an SMS undelivered, an email rejected) marks the row ERROR
(``mark_failed``), so a retry of that failure does send it again.
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
WITHHELD = "WITHHELD"  # not handed over: its job was stopped; neither recorded nor announced (it stays unsent)


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

    @classmethod
    def withheld(cls, message_id: str) -> "Outcome":
        """Not handed to the provider because the message's job was stopped."""
        return cls(message_id, WITHHELD)

    @classmethod
    def suppressed(cls, message_id: str, status: str, code: str, reason: str) -> "Outcome":
        """Not handed to the provider because the recipient is suppressed (BLACKLISTED, UNSUBSCRIBED)."""
        return cls(message_id, status, error_code=code[:64], reason=reason)


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
        self._sent_to = text(
            f"SELECT DISTINCT recipient_id FROM {table.name} "  # noqa: S608 - a model's name
            "WHERE recipient_id = ANY(:ids) AND status = 'SENT'"
        )
        self._mark_failed = text(
            f"UPDATE {table.name} SET status = 'ERROR' "  # noqa: S608 - a model's name
            "WHERE message_id = ANY(:ids) AND status = 'SENT'"
        )

    def recorded(self, session: Session, message_ids: Sequence[str]) -> dict[str, Outcome]:
        """The outcomes already recorded for these message ids (one query)."""
        if not message_ids:
            return {}
        rows = session.execute(self._recorded, {"ids": list(message_ids)})
        return {row.message_id: Outcome(row.message_id, row.status, row.error_code, row.error_reason) for row in rows}

    def sent_to(self, session: Session, recipient_ids: Sequence[int]) -> set[int]:
        """The recipients among these whose message this sender handed to its provider (SENT), whatever its id."""
        if not recipient_ids:
            return set()
        return set(session.execute(self._sent_to, {"ids": sorted(set(recipient_ids))}).scalars())

    def mark_failed(self, session: Session, message_ids: Sequence[str]) -> int:
        """Marks SENT messages ERROR (a receipt reported them failed); returns how many."""
        if not message_ids:
            return 0
        result = session.execute(self._mark_failed, {"ids": list(message_ids)})
        return int(getattr(result, "rowcount", 0))

    def record(self, session: Session, messages: Sequence[tuple[str, int | None, int | None]],
               outcomes: dict[str, Outcome]) -> dict[str, Outcome]:
        """Inserts the outcome of each (message_id, campaign_id, recipient_id); where another consumer recorded a
        message first, its outcome is the one returned, so the announced outcome always matches the table."""
        rows = [
            {
                "message_id": message_id,
                "campaign_id": campaign_id,
                "recipient_id": recipient_id,
                "status": outcomes[message_id].status,
                "error_code": outcomes[message_id].error_code,
                "error_reason": outcomes[message_id].reason,
                "provider_message_id": (outcomes[message_id].provider_message_id or "")[:self._provider_id_length]
                or None,
            }
            for message_id, campaign_id, recipient_id in messages
        ]
        inserted = set(session.execute(self._insert, rows).scalars())
        result = {message_id: outcomes[message_id] for message_id in inserted}
        lost = [message_id for message_id, _, _ in messages if message_id not in inserted]
        if lost:
            result.update(self.recorded(session, lost))
        return result


class CampaignMessage(Protocol):
    """What the senders' campaign messages (RenderedEmail, RenderedSms, RenderedTelegram) have in common here."""

    recipient_id: int
    campaign_id: int
    job_id: int

    @property
    def message_id(self) -> str: ...


def log_entry(message: CampaignMessage) -> tuple[str, int | None, int | None]:
    """How ``DeliveryLog.record`` names a campaign message."""
    return message.message_id, message.campaign_id, message.recipient_id


def delivery_event(message: CampaignMessage, outcome: Outcome) -> DeliveryEvent:
    """The DeliveryEvent announcing a message's recorded outcome to stats."""
    return DeliveryEvent(
        recipient_id=message.recipient_id, campaign_id=message.campaign_id, job_id=message.job_id,
        status=outcome.status, error_code=outcome.error_code, reason=outcome.reason,
    )


def log_batch(log: Any, messages: Sequence[CampaignMessage], outcomes: dict[str, Outcome], put_back: set[str]) -> None:
    """One line per job of a delivered batch (a batch rarely spans more than one): sent, errored, suppressed,
    withheld (its job was stopped), announced again (recorded before: a redelivery) and put back (not sent: the
    sender is stopping)."""
    tallies: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)
    for message in messages:
        outcome = outcomes.get(message.message_id)
        kind = outcome.status if outcome else "put_back" if message.message_id in put_back else "announced_again"
        tallies[(message.campaign_id, message.job_id)][kind] += 1
    for (campaign_id, job_id), tally in tallies.items():
        log.info("batch delivered", campaign_id=campaign_id, job_id=job_id, sent=tally[SENT], errored=tally[ERROR],
                 suppressed=tally["BLACKLISTED"] + tally["UNSUBSCRIBED"], withheld=tally[WITHHELD],
                 announced_again=tally["announced_again"], put_back=tally["put_back"])

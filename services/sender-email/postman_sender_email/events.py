"""The ``email.events`` entrypoint: SES's events about sent emails (checked by the gateway, which verified the SNS
signature) move the status of the transactional email they name (``transactional.apply_event``).

Events about messages that are not transactional emails (a campaign's, when the campaign's configuration set
publishes events too) match no row and are dropped. Applying an event is idempotent, so SNS retrying a notification
or the queue redelivering it changes nothing.
"""

from __future__ import annotations

from postman_sender_email import transactional
from postman_sender_email.metrics import EVENTS
from postman_shared.broker import Delivery
from postman_shared.db import Database
from postman_shared.logging import get_logger
from postman_shared.messages import EmailEvent

log = get_logger(component="email-events")


def decode(batch: list[Delivery]) -> tuple[list[EmailEvent], list[Delivery]]:
    """The well-formed events of a batch, and the deliveries that are not (to be dead-lettered)."""
    events: list[EmailEvent] = []
    malformed: list[Delivery] = []
    for delivery in batch:
        try:
            events.append(EmailEvent.from_dict(delivery.json()))
        except (ValueError, KeyError, TypeError) as exc:
            log.error("malformed email event", message_id=delivery.message_id, problem=f"{type(exc).__name__}: {exc}")
            malformed.append(delivery)
    return events, malformed


class EventHandler:
    """The ``email.events`` batch handler: one short transaction per event (a batch rarely holds many)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def __call__(self, batch: list[Delivery]) -> list[Delivery]:
        events, malformed = decode(batch)
        for event in events:
            applied = transactional.apply_event(self._database, event)
            EVENTS.labels(event_type=event.event_type, outcome="applied" if applied else "ignored").inc()
        return malformed

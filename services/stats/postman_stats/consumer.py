"""The queue entrypoint: decodes ``delivery.events``, records them, then finishes the jobs that are complete."""

from __future__ import annotations

from postman_shared.broker import Delivery
from postman_shared.db import Database
from postman_shared.logging import get_logger
from postman_shared.messages import DeliveryEvent, JobRendered, parse_event
from postman_stats import finishing, recording

log = get_logger(component="consumer")


def decode(batch: list[Delivery]) -> tuple[list[DeliveryEvent | JobRendered], list[Delivery]]:
    """The well-formed events of a batch, and the deliveries that are not (to be dead-lettered)."""
    events: list[DeliveryEvent | JobRendered] = []
    malformed: list[Delivery] = []
    for delivery in batch:
        try:
            event = parse_event(delivery.json())
            if isinstance(event, DeliveryEvent):
                allowed = recording.RECEIPT_STATUSES if event.kind == recording.RECEIPT else recording.STATUSES
                if event.status not in allowed:
                    raise ValueError(f"status of a {event.kind} must be {' or '.join(allowed)}, got {event.status!r}")
            events.append(event)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error("malformed delivery event", message_id=delivery.message_id,
                      problem=f"{type(exc).__name__}: {exc}")
            malformed.append(delivery)
    return events, malformed


class EventHandler:
    def __init__(self, database: Database, jobs: finishing.Jobs) -> None:
        self._database = database
        self._jobs = jobs

    def __call__(self, batch: list[Delivery]) -> list[Delivery]:
        events, malformed = decode(batch)
        if events:
            recorded = recording.record(self._database, events)
            log.info("events recorded", campaign_ids=recorded.campaign_ids, counted=recorded.counted,
                     receipts=recorded.receipts, duplicates=recorded.duplicates)
            finishing.finish_completed(self._database, self._jobs, recorded.campaign_ids)
        return malformed

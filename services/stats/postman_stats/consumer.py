"""The queue entrypoint: decodes ``delivery.events``, records them, then finishes the jobs that are complete."""

from __future__ import annotations

from postman_shared.broker import Delivery
from postman_shared.db import Database
from postman_shared.logging import get_logger
from postman_shared.messages import DeliveryEvent, JobRendered, parse_event
from postman_stats import finishing, halting, recording

log = get_logger(component="consumer")


def decode(batch: list[Delivery]) -> tuple[list[DeliveryEvent | JobRendered], list[Delivery]]:
    """The well-formed events of a batch, and the deliveries that are not (to be dead-lettered)."""
    events: list[DeliveryEvent | JobRendered] = []
    malformed: list[Delivery] = []
    for delivery in batch:
        try:
            event = parse_event(delivery.json())
            if isinstance(event, DeliveryEvent):
                allowed = recording.ALLOWED_STATUSES[event.kind]
                if event.status not in allowed:
                    raise ValueError(f"status of a {event.kind} must be one of {', '.join(sorted(allowed))}, "
                                     f"got {event.status!r}")
            events.append(event)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error("malformed delivery event", message_id=delivery.message_id,
                      problem=f"{type(exc).__name__}: {exc}")
            malformed.append(delivery)
    return events, malformed


class Campaigns(finishing.Jobs, halting.Campaigns):
    pass


class EventHandler:
    def __init__(self, database: Database, campaigns: Campaigns,
                 thresholds: halting.Thresholds = halting.Thresholds()) -> None:
        self._database = database
        self._campaigns = campaigns
        self._thresholds = thresholds

    def __call__(self, batch: list[Delivery]) -> list[Delivery]:
        events, malformed = decode(batch)
        if events:
            recorded = recording.record(self._database, events)
            log.info("events recorded", campaign_ids=recorded.campaign_ids, counted=recorded.counted,
                     receipts=recorded.receipts, duplicates=recorded.duplicates)
            if recorded.bad_news:
                halting.check(self._database, self._campaigns, self._thresholds, sorted(recorded.bad_news))
            finishing.finish_completed(self._database, self._campaigns, recorded.campaign_ids)
        return malformed

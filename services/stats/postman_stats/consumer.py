"""The queue entrypoint: decodes ``delivery.events``, records them, then finishes the jobs that are complete."""

from __future__ import annotations

from postman_shared.broker import Delivery
from postman_shared.broker.batches import decode_each
from postman_shared.db import Database
from postman_shared.logging import get_logger
from postman_shared.messages import DeliveryEvent, JobRendered, inner_events, parse_event
from postman_stats import finishing, halting, recording

log = get_logger(component="consumer")


def decode(batch: list[Delivery]) -> tuple[list[DeliveryEvent | JobRendered], list[Delivery]]:
    """The well-formed events of a batch (a message holds one event, or a sender's batch of them), and the deliveries
    that are not well-formed (to be dead-lettered). A batch message with one malformed event is dead-lettered for a
    person to look at, and its other events are recorded all the same (replaying it records nothing twice)."""
    decoded, malformed = decode_each(batch, lambda body: _checked(parse_event(body)), "delivery event",
                                     unpack=inner_events)
    return [event for _, event in decoded], malformed


def _checked(event: DeliveryEvent | JobRendered) -> DeliveryEvent | JobRendered:
    if isinstance(event, DeliveryEvent):
        allowed = recording.ALLOWED_STATUSES[event.kind]
        if event.status not in allowed:
            raise ValueError(f"status of a {event.kind} must be one of {', '.join(sorted(allowed))}, "
                             f"got {event.status!r}")
    return event


class Campaigns(finishing.Jobs, halting.Campaigns):
    pass


class EventHandler:
    def __init__(self, database: Database, campaigns: Campaigns,
                 thresholds: halting.Thresholds = halting.Thresholds(), chunk: int = 500) -> None:
        self._database = database
        self._chunk = max(1, chunk)
        self._campaigns = campaigns
        self._thresholds = thresholds

    def __call__(self, batch: list[Delivery]) -> list[Delivery]:
        events, malformed = decode(batch)
        # A batch of messages may hold many senders' batches: recorded STATS_BATCH_SIZE events per transaction.
        for start in range(0, len(events), self._chunk):
            self._record(events[start:start + self._chunk])
        return malformed

    def _record(self, events: list[DeliveryEvent | JobRendered]) -> None:
        if events:
            recorded = recording.record(self._database, events)
            log.info("events recorded", campaign_ids=recorded.campaign_ids, counted=recorded.counted,
                     receipts=recorded.receipts, duplicates=recorded.duplicates)
            if recorded.bad_news:
                halting.check(self._database, self._campaigns, self._thresholds, sorted(recorded.bad_news))
            finishing.finish_completed(self._database, self._campaigns, recorded.campaign_ids)

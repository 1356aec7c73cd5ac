"""Helpers for queue-driven tests: build rendered emails, wait for what comes out of the pipeline."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from postman_shared.broker.topology import DELIVERY_EVENTS
from postman_shared.messages import RenderedEmail, inner_events

SENDER = "Postman Test <donotreply@mail.postman.gov.sg>"


def rendered(campaign_id: int, count: int, **overrides: object) -> list[RenderedEmail]:
    emails = []
    for n in range(count):
        fields: dict[str, object] = dict(
            recipient_id=campaign_id * 1000 + n, campaign_id=campaign_id, job_id=campaign_id,
            to=f"person{n}@example.com", sender=SENDER, reply_to=None, subject=f"Letter number {n}",
            body=f"<p>Dear person {n}, 你好</p>",
        )
        fields.update(overrides)
        emails.append(RenderedEmail(**fields))  # type: ignore[arg-type]
    return emails


def wait_for_events(channel, count: int, timeout: float = 30.0) -> list[dict]:
    """Takes ``count`` messages off ``delivery.events``, failing if they do not all come before the deadline."""
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(events) < count:
        method, _properties, body = channel.basic_get(DELIVERY_EVENTS, auto_ack=True)
        if method is None:
            assert time.monotonic() < deadline, f"only {len(events)} of {count} delivery events arrived"
            time.sleep(0.02)
            continue
        events.extend(inner_events(json.loads(body)))  # a sender's batch of events is one message
    return events


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)

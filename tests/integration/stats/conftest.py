"""Fixtures for the stats tests: campaigns written straight into campaign's tables, events put on the queue."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import insert

from postman_campaign.models import Campaign, Job, Recipient
from postman_shared.broker import OutgoingMessage, Publisher
from postman_shared.broker.topology import DELIVERY_EVENTS
from postman_shared.messages import DeliveryEvent, JobRendered


@dataclass(frozen=True)
class CampaignRows:
    id: int
    user_id: int
    job_id: int | None
    valid: list[tuple[int, str]]  # (recipient id, address)
    invalid: list[tuple[int, str]]

    def sent(self, index: int) -> DeliveryEvent:
        return DeliveryEvent(self.valid[index][0], self.id, self.job_id or 0, "SENT")

    def error(self, index: int, code: str = "smtp_550", reason: str = "User unknown") -> DeliveryEvent:
        return DeliveryEvent(self.valid[index][0], self.id, self.job_id or 0, "ERROR", code, reason)

    def rendered(self, total: int | None = None) -> JobRendered:
        return JobRendered(self.job_id or 0, self.id, len(self.valid) if total is None else total)


@pytest.fixture
def make_campaign(database) -> Callable[..., CampaignRows]:
    def _make(valid: int = 4, invalid: int = 0, job_status: str | None = "SENT", redacted: bool = False,
              user_id: int | None = None) -> CampaignRows:
        owner = user_id or secrets.randbelow(10**9) + 1
        with database.unit_of_work() as session:
            campaign = Campaign(user_id=owner, name="Stats test", type="EMAIL", csv_filename="people.csv",
                                recipient_keys=["recipient"], num_recipients=valid + invalid, num_invalid=invalid,
                                redacted=redacted)
            session.add(campaign)
            session.flush()
            job_id = None
            if job_status is not None:
                job = Job(campaign_id=campaign.id, status=job_status)
                session.add(job)
                session.flush()
                job_id = job.id
            rows = [
                {"campaign_id": campaign.id, "line": n + 2, "recipient": f"person{n}@example.com",
                 "params": {"recipient": f"person{n}@example.com"}, "valid": n < valid}
                for n in range(valid + invalid)
            ]
            returning = insert(Recipient).returning(Recipient.id, Recipient.recipient, sort_by_parameter_order=True)
            ids = session.execute(returning, rows).all()
        return CampaignRows(campaign.id, owner, job_id, [tuple(r) for r in ids[:valid]],
                            [tuple(r) for r in ids[valid:]])

    return _make


@pytest.fixture
def publish_events(stores) -> Iterator[Callable[[list[DeliveryEvent | JobRendered]], None]]:
    publisher = Publisher(stores.amqp_url, app_id="test")

    def _publish(events: list[DeliveryEvent | JobRendered]) -> None:
        publisher.publish([OutgoingMessage(DELIVERY_EVENTS, e.to_dict(), e.message_id) for e in events])

    yield _publish
    publisher.close()

"""The outbox relay publishes what a crash between commit and publish left behind."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from postman_campaign import models
from postman_shared import outbox
from postman_shared.broker import Publisher
from postman_shared.broker.topology import CAMPAIGN_SEND
from postman_shared.messages import SendJob
from tests.integration.campaign.support import wait_until
from tests.support.inprocess import running


def _left_behind(database, job_id: int) -> SendJob:
    message = SendJob(job_id=job_id, campaign_id=1, user_id=2)
    with database.unit_of_work() as session:
        outbox.write(session, models.outbox, CAMPAIGN_SEND, message.message_id, message.to_dict())
    return message


def _pending(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(models.outbox))


def _receive(amqp_channel, message_id: str):
    """The queued message with this id (earlier tests of the module may have left others on the queue)."""
    def found():
        method, properties, body = amqp_channel.basic_get(CAMPAIGN_SEND, auto_ack=True)
        return method is not None and properties.message_id == message_id and (method, properties, body)
    return wait_until(found)


def test_flush_publishes_a_left_behind_row_and_deletes_it(settings, database, amqp_channel):
    # Rows other tests of the module left (their campaign's events for client webhooks, say) go out with it.
    before = _pending(database)
    message = _left_behind(database, job_id=424242)
    publisher = Publisher(settings.amqp_url, app_id="test")
    try:
        published = outbox.OutboxRelay(database, models.outbox, publisher).flush()
    finally:
        publisher.close()
    _method, _properties, body = _receive(amqp_channel, "job-424242")
    assert published == before + 1 and _pending(database) == 0
    assert json.loads(body) == message.to_dict()


def test_the_running_service_relays_rows_left_behind_by_a_crash(settings, database, amqp_channel):
    _left_behind(database, job_id=434343)
    with running(settings, "campaign"):
        _receive(amqp_channel, "job-434343")
        wait_until(lambda: _pending(database) == 0)

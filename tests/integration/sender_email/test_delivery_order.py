"""The delivery use case: outcomes are committed before anyone hears about them."""

from __future__ import annotations

from sqlalchemy import text

from postman_sender_email import delivery
from postman_sender_email.transports.dev_mailbox import DevMailboxTransport
from postman_shared.broker import Publisher
from postman_shared.db import Database
from postman_shared.messages import inner_events
from tests.integration.sender_email.support import rendered, wait_for_events


class CommitObservingPublisher:
    """The real publisher; before each publish it looks, from a connection of its own, at what is committed."""

    def __init__(self, publisher: Publisher, observer: Database) -> None:
        self._publisher = publisher
        self._observer = observer
        self.committed_when_published: list[set[str]] = []
        self.announced: list[set[str]] = []

    def publish(self, messages):
        ids = [str(event["recipient_id"]) for m in messages for event in inner_events(m.body)]
        with self._observer.session() as session:
            committed = session.execute(
                text("SELECT message_id FROM email_deliveries WHERE message_id = ANY(:ids)"), {"ids": ids},
            ).scalars()
            self.committed_when_published.append(set(committed))
        self.announced.append(set(ids))
        self._publisher.publish(messages)


def test_events_are_published_only_after_the_outcomes_are_committed(
        stores, database, amqp_channel, tmp_path, campaign_id):
    emails = rendered(campaign_id, 20)
    worker_database = Database(stores.database_url, pool_size=1)
    publisher = CommitObservingPublisher(Publisher(stores.amqp_url, app_id="test"), observer=database)
    try:
        report = delivery.deliver(emails, worker_database, DevMailboxTransport(tmp_path / "outbox"), publisher)
    finally:
        publisher._publisher.close()
        worker_database.dispose()

    assert report.sent == 20
    assert publisher.announced == [{e.message_id for e in emails}]
    assert publisher.committed_when_published == publisher.announced
    assert len(wait_for_events(amqp_channel, 20)) == 20


def test_a_message_twice_in_one_batch_is_sent_and_announced_once(stores, database, amqp_channel, tmp_path,
                                                                 campaign_id):
    (email,) = rendered(campaign_id, 1)
    worker_database = Database(stores.database_url, pool_size=1)
    publisher = Publisher(stores.amqp_url, app_id="test")
    try:
        report = delivery.deliver([email, email], worker_database, DevMailboxTransport(tmp_path / "outbox"), publisher)
    finally:
        publisher.close()
        worker_database.dispose()

    assert report.sent == 1
    assert len(wait_for_events(amqp_channel, 1)) == 1
    assert amqp_channel.basic_get("delivery.events", auto_ack=True)[0] is None


def test_an_address_with_a_line_break_is_an_error_and_never_reaches_the_transport(
        stores, database, amqp_channel, tmp_path, campaign_id):
    (email,) = rendered(campaign_id, 1, to="victim@example.com\r\nBcc: everyone@example.com")
    worker_database = Database(stores.database_url, pool_size=1)
    publisher = Publisher(stores.amqp_url, app_id="test")
    try:
        report = delivery.deliver([email], worker_database, DevMailboxTransport(tmp_path / "outbox"), publisher)
    finally:
        publisher.close()
        worker_database.dispose()

    (event,) = wait_for_events(amqp_channel, 1)
    assert report.errored == 1
    assert (event["status"], event["error_code"]) == ("ERROR", "invalid_recipient")
    assert not (tmp_path / "outbox").exists() or not any((tmp_path / "outbox").iterdir())

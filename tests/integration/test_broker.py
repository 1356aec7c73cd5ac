"""The broker plumbing against the real RabbitMQ: confirms, batching, acks, redelivery."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pika
import pytest

from postman_shared.broker import BatchConsumer, OutgoingMessage, Publisher, PublishError
from postman_shared.broker.management import ManagementApi
from postman_shared.broker.policies import Policy, exactly, wait_queue_definition, work_queue_definition
from postman_shared.broker.topology import (
    CAMPAIGN_SEND,
    EMAIL_SEND,
    EMAIL_SEND_RETRY,
    EXCHANGE,
    QUEUE_CONSUMERS,
    WAIT_QUEUES,
)


def _message_count(channel, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def test_publisher_returns_after_broker_confirms_every_message_of_a_batch(stores, amqp_channel):
    publisher = Publisher(stores.amqp_url, app_id="test")
    try:
        publisher.publish([OutgoingMessage(EMAIL_SEND, {"n": i}, f"m{i}") for i in range(1000)])
        assert _message_count(amqp_channel, EMAIL_SEND) == 1000
    finally:
        publisher.close()


def test_publishing_to_an_unbound_routing_key_fails_the_batch(stores, amqp_channel):
    publisher = Publisher(stores.amqp_url, app_id="test")
    try:
        with pytest.raises(PublishError, match="unroutable"):
            publisher.publish([OutgoingMessage("no.such.queue", {"n": 1}, "lost-1")])
    finally:
        publisher.close()


def test_consumer_acks_only_after_the_handler_returns_and_retries_a_failed_batch_message_by_message(
        stores, amqp_channel):
    publisher = Publisher(stores.amqp_url, app_id="test")
    publisher.publish([OutgoingMessage(CAMPAIGN_SEND, {"n": i}, f"c{i}") for i in range(10)])
    publisher.close()
    calls: list[list[str]] = []

    def handler(batch):
        calls.append([d.message_id for d in batch])
        if len(calls) == 1:
            raise RuntimeError("first attempt fails")
        if len(calls) == 11:
            consumer.stop()
        return []

    consumer = BatchConsumer(stores.amqp_url, CAMPAIGN_SEND, handler, batch_size=100, max_wait=0.5)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    # The failed batch, then each of its messages alone (a passing failure: each goes through and is acked).
    assert calls == [[f"c{i}" for i in range(10)], *([f"c{i}"] for i in range(10))]
    assert _message_count(amqp_channel, CAMPAIGN_SEND) == 0


def test_rejected_deliveries_are_dead_lettered_and_the_rest_acked(stores, amqp_channel):
    from postman_shared.broker.topology import DEAD_LETTER_QUEUE

    amqp_channel.queue_purge(DEAD_LETTER_QUEUE)
    publisher = Publisher(stores.amqp_url, app_id="test")
    publisher.publish([OutgoingMessage(CAMPAIGN_SEND, {"n": i}, f"d{i}") for i in range(5)])
    publisher.close()

    def handler(batch):
        consumer.stop()
        return [d for d in batch if d.message_id == "d2"]

    consumer = BatchConsumer(stores.amqp_url, CAMPAIGN_SEND, handler, batch_size=5, max_wait=0.5)
    consumer.run()
    assert _message_count(amqp_channel, CAMPAIGN_SEND) == 0
    method, _props, body = amqp_channel.basic_get(DEAD_LETTER_QUEUE, auto_ack=True)
    assert method is not None and b'"n":2' in body


def test_a_pause_of_the_consumer_ends_as_soon_as_it_is_stopped(stores):
    consumer = BatchConsumer(stores.amqp_url, CAMPAIGN_SEND, lambda batch: [])
    pausing = threading.Thread(target=consumer.pause, args=(3600,))
    pausing.start()
    consumer.stop()
    pausing.join(timeout=10)
    assert not pausing.is_alive()


def test_every_work_queue_names_an_existing_service_as_its_consumer():
    """The table's own check (a misspelt or removed service); that the service really consumes the queue once
    started is tests/e2e/test_queue_consumers.py's."""
    services = {folder.name for folder in (Path(__file__).parents[2] / "services").iterdir() if folder.is_dir()}
    for queue, service in QUEUE_CONSUMERS.items():
        assert service in services, f"{queue}'s consumer {service!r} is not a service under services/"


def test_every_wait_queue_drains_into_a_queue_that_has_a_consumer():
    assert not set(WAIT_QUEUES) & set(QUEUE_CONSUMERS), "a wait queue has no consumer by design"
    for queue, drains_to in WAIT_QUEUES.items():
        assert drains_to in QUEUE_CONSUMERS, f"{queue} drains into {drains_to}, which no service consumes"
        definition = wait_queue_definition(drains_to)
        assert (definition["dead-letter-exchange"], definition["dead-letter-routing-key"]) == (EXCHANGE, drains_to)


def test_a_message_in_a_wait_queue_comes_back_to_its_work_queue_when_its_ttl_runs_out(stores, amqp_channel):
    publisher = Publisher(stores.amqp_url, app_id="test")
    try:
        publisher.publish([OutgoingMessage(EMAIL_SEND_RETRY, {"n": 1}, "waited-1", headers={"x-postman-attempt": 2},
                                           expiration_ms=200)])
    finally:
        publisher.close()
    deadline = time.monotonic() + 30
    while (got := amqp_channel.basic_get(EMAIL_SEND, auto_ack=True))[0] is None:
        assert time.monotonic() < deadline, "the message never came back from the wait queue"
        time.sleep(0.02)
    _method, properties, body = got
    assert (properties.message_id, body) == ("waited-1", b'{"n":1}')
    assert properties.headers["x-postman-attempt"] == 2
    assert _message_count(amqp_channel, EMAIL_SEND_RETRY) == 0


def test_queues_are_durable_quorum_queues_whose_only_argument_is_their_type(stores, amqp_channel):
    # Their delivery limit and dead-lettering are policies (test_queue_policies.py), so no redeclare depends on a
    # setting.
    api = ManagementApi.from_urls("", stores.amqp_url)
    for queue in (*QUEUE_CONSUMERS, *WAIT_QUEUES):
        record = api.queue(queue)
        assert record is not None, queue
        assert (record["durable"], record["type"], record["arguments"]) == (True, "quorum", {"x-queue-type": "quorum"})
    conn = pika.BlockingConnection(pika.URLParameters(stores.amqp_url))
    ch = conn.channel()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker):
        ch.queue_declare(EMAIL_SEND, durable=True, arguments={"x-queue-type": "classic"})
    conn.close()


def test_consumed_and_published_messages_are_counted_for_prometheus(stores, amqp_channel):
    from prometheus_client import REGISTRY

    def sample(name, labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    published_before = sample("postman_published_messages_total", {"routing_key": CAMPAIGN_SEND})
    acked_before = sample("postman_queue_messages_total", {"queue": CAMPAIGN_SEND, "outcome": "acked"})
    dead_before = sample("postman_queue_messages_total", {"queue": CAMPAIGN_SEND, "outcome": "dead_lettered"})
    publisher = Publisher(stores.amqp_url, app_id="test")
    publisher.publish([OutgoingMessage(CAMPAIGN_SEND, {"n": i}, f"p{i}") for i in range(3)])
    publisher.close()

    def handler(batch):
        consumer.stop()
        return [d for d in batch if d.message_id == "p1"]

    consumer = BatchConsumer(stores.amqp_url, CAMPAIGN_SEND, handler, batch_size=3, max_wait=0.5)
    consumer.run()
    assert sample("postman_published_messages_total", {"routing_key": CAMPAIGN_SEND}) == published_before + 3
    assert sample("postman_queue_messages_total", {"queue": CAMPAIGN_SEND, "outcome": "acked"}) == acked_before + 2
    assert sample("postman_queue_messages_total",
                  {"queue": CAMPAIGN_SEND, "outcome": "dead_lettered"}) == dead_before + 1


# A queue of the tests' own with a small delivery limit, so a poison message reaches the dead-letter queue quickly.
# Its limit and dead-lettering are a policy, the work queues' definition, as `postmanctl setup` sets them.
POISON_TEST_QUEUE = "test.poison-batches"
POISON_TEST_LIMIT = 3


@pytest.fixture
def poison_test_queue(stores, amqp_channel):
    from postman_shared.broker.topology import DEAD_LETTER_QUEUE, QUEUE_ARGUMENTS

    api = ManagementApi.from_urls("", stores.amqp_url)
    policy = Policy("test-poison-batches", exactly([POISON_TEST_QUEUE]), work_queue_definition(POISON_TEST_LIMIT))
    api.put_policy(policy.name, policy.body())  # before the queue exists: it has the policy from its creation
    amqp_channel.queue_declare(POISON_TEST_QUEUE, durable=True, arguments=QUEUE_ARGUMENTS)
    amqp_channel.queue_purge(POISON_TEST_QUEUE)
    amqp_channel.queue_purge(DEAD_LETTER_QUEUE)
    yield POISON_TEST_QUEUE
    amqp_channel.queue_delete(POISON_TEST_QUEUE)
    api.delete_policy(policy.name)


def _publish_direct(channel, queue: str, message_ids: list[str]) -> None:
    channel.confirm_delivery()
    for message_id in message_ids:
        channel.basic_publish("", queue, f'{{"id":"{message_id}"}}'.encode(),
                              pika.BasicProperties(message_id=message_id, delivery_mode=2))


def _run_in_thread(consumer: BatchConsumer) -> threading.Thread:
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    return thread


def test_a_poison_message_alone_reaches_the_dead_letter_queue_and_its_batch_mates_are_acked(
        stores, amqp_channel, poison_test_queue):
    from postman_shared.broker.topology import DEAD_LETTER_QUEUE

    good = [f"good{i}" for i in range(7)]
    _publish_direct(amqp_channel, poison_test_queue, [*good[:3], "poison", *good[3:]])
    calls: list[list[str]] = []
    taken: list[str] = []
    deliveries: dict[str, list[int]] = {}

    def handler(batch):
        calls.append([d.message_id for d in batch])
        for d in batch:
            deliveries.setdefault(d.message_id, []).append(int(d.headers.get("x-delivery-count", 0)) + 1)
        if any(d.message_id == "poison" for d in batch):
            raise RuntimeError("cannot handle the poison message")
        taken.extend(d.message_id for d in batch)
        return []

    consumer = BatchConsumer(stores.amqp_url, poison_test_queue, handler, batch_size=8, max_wait=0.5)
    thread = _run_in_thread(consumer)
    deadline = time.monotonic() + 60
    while (dead := amqp_channel.basic_get(DEAD_LETTER_QUEUE, auto_ack=True))[0] is None:
        assert time.monotonic() < deadline, f"the poison message never reached the dead-letter queue: {calls}"
        time.sleep(0.05)
    consumer.stop()
    thread.join(timeout=30)
    assert not thread.is_alive()

    assert dead[1].message_id == "poison"
    assert dead[1].headers["x-first-death-reason"] in ("delivery_limit", b"delivery_limit")
    assert amqp_channel.basic_get(DEAD_LETTER_QUEUE, auto_ack=True)[0] is None, "only the poison message is dead"
    assert _message_count(amqp_channel, poison_test_queue) == 0, "every good message was acked"
    assert calls[0] == [*good[:3], "poison", *good[3:]], "the first delivery is one batch"
    # Each good message: in the failed batch, then once alone (handled at most once more), taken exactly once,
    # never requeued (delivered once).
    assert sorted(taken) == sorted(good)
    for message_id in good:
        assert sum(message_id in call for call in calls) == 2, calls
        assert deliveries[message_id] == [1, 1]
    # The poison message was delivered until its delivery limit, and after its first failure always handled alone.
    # (RabbitMQ dead-letters it once it has been returned more than its policy's delivery-limit times.) Its first
    # delivery is handled twice: in the batch, then alone.
    assert deliveries["poison"] == [1, *range(1, POISON_TEST_LIMIT + 2)]
    assert all(call == ["poison"] for call in calls[1:] if "poison" in call)


def test_a_batch_whose_messages_all_fail_alone_too_is_requeued_after_a_few_tries(
        stores, amqp_channel, poison_test_queue):
    from postman_shared.broker.consumer import SYSTEMIC_AFTER

    _publish_direct(amqp_channel, poison_test_queue, [f"m{i}" for i in range(8)])
    calls: list[list[str]] = []

    def handler(batch):
        calls.append([d.message_id for d in batch])
        if len(calls) == 1 + SYSTEMIC_AFTER:  # run returns after this batch
            consumer.stop()
        raise RuntimeError("the database is down")

    consumer = BatchConsumer(stores.amqp_url, poison_test_queue, handler, batch_size=8, max_wait=0.5)
    consumer.run()
    # The batch, then its first few messages alone; not one call per message during an outage.
    assert calls == [[f"m{i}" for i in range(8)], *([f"m{i}"] for i in range(SYSTEMIC_AFTER))]
    back: list[str] = []
    deadline = time.monotonic() + 10
    while len(back) < 8 and time.monotonic() < deadline:
        method, properties, _body = amqp_channel.basic_get(poison_test_queue, auto_ack=True)
        if method is None:
            time.sleep(0.05)
        else:
            back.append(properties.message_id)
    assert sorted(back) == sorted(f"m{i}" for i in range(8)), "every message is back on the queue"


def test_a_batch_that_succeeds_is_one_handler_call_and_is_acked(stores, amqp_channel, poison_test_queue):
    _publish_direct(amqp_channel, poison_test_queue, [f"ok{i}" for i in range(8)])
    calls: list[int] = []

    def handler(batch):
        calls.append(len(batch))
        consumer.stop()
        return []

    consumer = BatchConsumer(stores.amqp_url, poison_test_queue, handler, batch_size=8, max_wait=0.5)
    consumer.run()
    assert calls == [8]
    assert _message_count(amqp_channel, poison_test_queue) == 0


def test_a_failed_batch_of_one_is_requeued_not_handed_over_again_at_once(stores, amqp_channel, poison_test_queue):
    _publish_direct(amqp_channel, poison_test_queue, ["solo"])
    calls: list[tuple[str, int]] = []

    def handler(batch):
        calls.append((batch[0].message_id, int(batch[0].headers.get("x-delivery-count", 0))))
        if len(calls) == 1:
            raise RuntimeError("a job that failed once")
        consumer.stop()
        return []

    consumer = BatchConsumer(stores.amqp_url, poison_test_queue, handler, batch_size=1, max_wait=0.05)
    thread = _run_in_thread(consumer)
    thread.join(timeout=30)
    assert not thread.is_alive()
    # The message was already alone: its second handling is its redelivery (a renderer job is not rendered twice
    # in a row by the same failure).
    assert calls == [("solo", 0), ("solo", 1)]
    assert _message_count(amqp_channel, poison_test_queue) == 0


def test_a_batch_failing_while_the_consumer_stops_is_requeued_whole_at_once(stores, amqp_channel, poison_test_queue):
    """A stopping service does not try a failed batch message by message (its dependencies may be stopping too):
    the whole batch goes back on the queue, for this or another replica."""
    _publish_direct(amqp_channel, poison_test_queue, [f"m{i}" for i in range(8)])
    calls: list[list[str]] = []

    def handler(batch):
        calls.append([d.message_id for d in batch])
        consumer.stop()  # SIGTERM arrives while the batch is handled
        raise RuntimeError("a call to a stopping service was cancelled")

    consumer = BatchConsumer(stores.amqp_url, poison_test_queue, handler, batch_size=8, max_wait=0.5)
    consumer.run()
    assert calls == [[f"m{i}" for i in range(8)]]
    back: list[str] = []
    deadline = time.monotonic() + 10
    while len(back) < 8 and time.monotonic() < deadline:
        method, properties, _body = amqp_channel.basic_get(poison_test_queue, auto_ack=True)
        if method is None:
            time.sleep(0.05)
        else:
            back.append(properties.message_id)
    assert sorted(back) == [f"m{i}" for i in range(8)]


def test_a_consumer_counting_messages_closes_its_batch_at_its_size_in_messages(stores, amqp_channel, poison_test_queue):
    from postman_shared.broker.batches import COUNT_HEADER

    amqp_channel.confirm_delivery()
    for n in range(5):  # five rendered batches of 40 messages each
        amqp_channel.basic_publish("", poison_test_queue, b'{"kind":"batch","messages":[{}]}',
                                   pika.BasicProperties(message_id=f"b{n}", delivery_mode=2,
                                                        headers={COUNT_HEADER: 40}))
    calls: list[list[str]] = []

    def handler(batch):
        calls.append([d.message_id for d in batch])
        return []

    consumer = BatchConsumer(stores.amqp_url, poison_test_queue, handler, batch_size=100, prefetch=10,
                             max_wait=2.0, count_messages=True)
    thread = _run_in_thread(consumer)
    deadline = time.monotonic() + 30
    while sum(len(c) for c in calls) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    consumer.stop()
    thread.join(timeout=10)
    assert calls[0] == ["b0", "b1", "b2"], "120 messages fill a batch of 100; not five deliveries"
    assert [m for c in calls for m in c] == ["b0", "b1", "b2", "b3", "b4"]


def test_a_batch_finishes_when_the_broker_drops_the_connection_in_its_middle_and_is_redelivered(stores):
    """A sender's handler calls keepalive between messages it hands to its provider; the broker dropping the
    connection then must not abort the batch before its outcomes are recorded (they would be sent again)."""
    import subprocess

    from postman_shared.broker.topology import QUEUE_ARGUMENTS

    queue = "test.connection-drop"
    setup = pika.BlockingConnection(pika.URLParameters(stores.amqp_url))
    setup.channel().queue_declare(queue, durable=True, arguments=QUEUE_ARGUMENTS)
    _publish_direct(setup.channel(), queue, ["only"])
    setup.close()
    finished: list[int] = []
    handled: list[int] = []

    def handler(batch):
        handled.append(len(handled) + 1)
        if len(handled) == 1:  # the first time: the broker closes every connection of the vhost mid-batch
            subprocess.run(["rabbitmqctl", "-q", "close_all_connections", "-p", stores.vhost, "test fault"],
                           check=True, capture_output=True, timeout=60)
        for _ in range(10):  # as a sender does between the messages of its batch
            consumer.keepalive()
            time.sleep(0.1)
        finished.append(len(handled))  # "recorded"
        return []

    consumer = BatchConsumer(stores.amqp_url, queue, handler, batch_size=1, max_wait=0.1)
    thread = _run_in_thread(consumer)
    deadline = time.monotonic() + 60
    while len(finished) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    consumer.stop()
    thread.join(timeout=10)
    cleanup = pika.BlockingConnection(pika.URLParameters(stores.amqp_url))
    cleanup.channel().queue_delete(queue)
    cleanup.close()
    assert finished[:1] == [1], "the batch in progress when the connection dropped still finished"
    assert finished[1:2] == [2], "its ack was lost with the connection: the message came again, to be recognised"


def test_a_publisher_whose_connection_was_refused_connects_again_at_its_next_publish(stores, amqp_channel):
    """make chaos: a broker restart refused a sender's reconnection once; its publisher then took the failed attempt
    for an open connection and every later publish waited out its whole timeout, for good."""
    from urllib.parse import urlsplit, urlunsplit

    from tests.support.stores import free_port
    from tests.support.tcp_forwarder import Forwarder

    url = urlsplit(stores.amqp_url)
    forwarder = Forwarder(free_port(), (url.hostname or "127.0.0.1", url.port or 5672))
    through_forwarder = urlunsplit(url._replace(netloc=f"{url.username}:{url.password}@127.0.0.1:{forwarder.port}"))
    publisher = Publisher(through_forwarder, app_id="test", connect_timeout=5, retry_pause=1.0)
    try:
        with pytest.raises(PublishError, match="cannot open a publishing channel"):
            publisher.publish([OutgoingMessage(EMAIL_SEND, {"n": 0}, "refused-0")], timeout=5)
        forwarder.open()
        # Within the pause after a failed attempt, a publish fails at once without a new attempt.
        with pytest.raises(PublishError, match="retrying shortly"):
            publisher.publish([OutgoingMessage(EMAIL_SEND, {"n": 0}, "paused-0")], timeout=5)
        assert forwarder.accepted == 0
        time.sleep(1.0)
        started = time.monotonic()
        publisher.publish([OutgoingMessage(EMAIL_SEND, {"n": 1}, "after-1")], timeout=20)
        assert time.monotonic() - started < 15, "the publish went through a new connection, not a dead loop"
        assert _message_count(amqp_channel, EMAIL_SEND) == 1
        assert forwarder.accepted == 1
    finally:
        publisher.close()
        forwarder.close()


def test_a_publisher_reconnects_after_the_broker_closes_its_connection(stores):
    import subprocess

    publisher = Publisher(stores.amqp_url, app_id="test", connect_timeout=5)
    try:
        publisher.publish([OutgoingMessage(EMAIL_SEND, {"n": 0}, "before")])
        subprocess.run(["rabbitmqctl", "-q", "close_all_connections", "-p", stores.vhost, "test fault"],
                       check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 30
        while True:  # the first publish after the close may still find the closing connection
            try:
                publisher.publish([OutgoingMessage(EMAIL_SEND, {"n": 1}, "after")], timeout=10)
                break
            except PublishError:
                assert time.monotonic() < deadline, "the publisher never published again"
                time.sleep(0.2)
        check = pika.BlockingConnection(pika.URLParameters(stores.amqp_url))
        try:
            assert _message_count(check.channel(), EMAIL_SEND) >= 2
        finally:
            check.close()
    finally:
        publisher.close()

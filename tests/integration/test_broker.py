"""The broker plumbing against the real RabbitMQ: confirms, batching, acks, redelivery."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pika
import pytest

from postman_shared.broker import BatchConsumer, OutgoingMessage, Publisher, PublishError
from postman_shared.broker.topology import (
    CAMPAIGN_SEND,
    EMAIL_SEND,
    EMAIL_SEND_RETRY,
    EXCHANGE,
    QUEUE_CONSUMERS,
    WAIT_QUEUES,
    wait_queue_arguments,
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


def test_consumer_acks_only_after_the_handler_returns_and_requeues_when_it_raises(stores, amqp_channel):
    publisher = Publisher(stores.amqp_url, app_id="test")
    publisher.publish([OutgoingMessage(CAMPAIGN_SEND, {"n": i}, f"c{i}") for i in range(10)])
    publisher.close()
    seen: list[tuple[str, bool]] = []
    attempts = {"n": 0}

    def handler(batch):
        attempts["n"] += 1
        seen.extend((d.message_id, d.redelivered) for d in batch)
        if attempts["n"] == 1:
            raise RuntimeError("first attempt fails")
        if len({m for m, _ in seen}) == 10 and any(r for _, r in seen):
            consumer.stop()
        return []

    consumer = BatchConsumer(stores.amqp_url, CAMPAIGN_SEND, handler, batch_size=100, max_wait=0.05)
    thread = threading.Thread(target=consumer.run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    redelivered = {m for m, r in seen if r}
    assert redelivered, "messages of the failed batch come back marked redelivered"
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


def test_every_declared_work_queue_has_a_consuming_service():
    services = {folder.name for folder in (Path(__file__).parents[2] / "services").iterdir() if folder.is_dir()}
    assert set(QUEUE_CONSUMERS.values()) <= services
    for queue, service in QUEUE_CONSUMERS.items():
        assert service in services, f"{queue} has no consumer"


def test_every_wait_queue_drains_into_a_queue_that_has_a_consumer():
    assert not set(WAIT_QUEUES) & set(QUEUE_CONSUMERS), "a wait queue has no consumer by design"
    for queue, drains_to in WAIT_QUEUES.items():
        assert drains_to in QUEUE_CONSUMERS, f"{queue} drains into {drains_to}, which no service consumes"
        arguments = wait_queue_arguments(drains_to)
        assert (arguments["x-dead-letter-exchange"], arguments["x-dead-letter-routing-key"]) == (EXCHANGE, drains_to)


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


def test_queues_are_durable_quorum_queues_with_a_delivery_limit(stores, amqp_channel):
    # Redeclaring with different arguments would fail with PRECONDITION_FAILED; passive declare proves existence.
    for queue in (*QUEUE_CONSUMERS, *WAIT_QUEUES):
        amqp_channel.queue_declare(queue, passive=True)
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

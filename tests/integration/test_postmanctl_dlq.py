"""postmanctl dlq (list, replay, purge) against the tests' RabbitMQ vhost, with dead letters made the way RabbitMQ
makes them: a consumer rejecting a message from its work queue.

postmanctl's real entry point runs in the test process (``tests/support/postmanctl.py``: its own environment, argv
and output, as in a process of its own), a second of imports cheaper per call than a subprocess.
``test_an_unreachable_broker_is_a_clear_refusal`` runs it as a real subprocess (``python -m postman_ctl.cli``): exit
status 2 and no traceback from the command itself."""

from __future__ import annotations

import json
import subprocess
import time

import pika
import pytest

from postman_shared.broker.topology import CAMPAIGN_SEND, DEAD_LETTER_QUEUE, EMAIL_SEND, EXCHANGE
from tests.support.postmanctl import as_subprocess, in_process


def postmanctl(amqp_url: str, *args: str, real_process: bool = False) -> subprocess.CompletedProcess[str]:
    return (as_subprocess if real_process else in_process)(["dlq", *args], {"PATH": "/usr/bin:/bin",
                                                                           "AMQP_URL": amqp_url})


def _dead_letter(channel, queue: str, message_id: str, body: bytes) -> None:
    channel.basic_publish(EXCHANGE, queue, body, pika.BasicProperties(message_id=message_id, delivery_mode=2,
                                                                        headers={"x-postman-attempt": 2}))
    method, _properties, _body = channel.basic_get(queue, auto_ack=False)
    assert method is not None
    channel.basic_nack(method.delivery_tag, requeue=False)


def _drain(channel, queue: str) -> list[tuple[str, bytes, dict]]:
    got = []
    while (message := channel.basic_get(queue, auto_ack=True))[0] is not None:
        got.append((message[1].message_id, message[2], dict(message[1].headers or {})))
    return got


@pytest.fixture
def dead_letters(stores, amqp_channel):
    amqp_channel.queue_purge(DEAD_LETTER_QUEUE)
    amqp_channel.confirm_delivery()
    _dead_letter(amqp_channel, CAMPAIGN_SEND, "job-1", b'{"job":1}')
    _dead_letter(amqp_channel, EMAIL_SEND, "mail-1", b'{"mail":1}')
    _dead_letter(amqp_channel, CAMPAIGN_SEND, "job-2", b'{"job":2}')
    _wait_for(amqp_channel, DEAD_LETTER_QUEUE, 3)  # RabbitMQ moves a rejected message there asynchronously
    yield amqp_channel
    amqp_channel.queue_purge(DEAD_LETTER_QUEUE)


def _count(channel, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def _wait_for(channel, queue: str, ready: int, within: float = 10.0) -> None:
    """Until ``queue`` holds ``ready`` messages (or ``within`` seconds have passed; the test's assertion then says what
    is wrong). RabbitMQ moves messages asynchronously: a rejected one to the dead-letter queue, and one a command
    fetched without acknowledging back to its queue after the command's connection closed. A test checks the queue
    once they have arrived: postmanctl run in-process returns at once, not after a subprocess's exit."""
    deadline = time.monotonic() + within
    while _count(channel, queue) < ready and time.monotonic() < deadline:
        time.sleep(0.01)


def test_list_shows_a_queues_dead_letters_and_leaves_them_where_they_are(stores, dead_letters):
    result = postmanctl(stores.amqp_url, "list", CAMPAIGN_SEND, "--json")
    assert result.returncode == 0, result.stderr
    listed = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted((e["queue"], e["message_id"], e["reason"]) for e in listed) == [
        (CAMPAIGN_SEND, "job-1", "rejected"), (CAMPAIGN_SEND, "job-2", "rejected")]
    _wait_for(dead_letters, DEAD_LETTER_QUEUE, 3)
    everything = postmanctl(stores.amqp_url, "list")
    assert everything.returncode == 0 and len(everything.stdout.splitlines()) == 3
    assert "3 dead letter(s)" in everything.stderr
    _wait_for(dead_letters, DEAD_LETTER_QUEUE, 3)
    assert _count(dead_letters, DEAD_LETTER_QUEUE) == 3


def test_replay_puts_a_queues_dead_letters_back_on_it_and_only_those(stores, dead_letters):
    result = postmanctl(stores.amqp_url, "replay", CAMPAIGN_SEND)
    assert result.returncode == 0, result.stderr
    assert "2 dead letter(s) replayed to campaign.send" in result.stderr
    replayed = _drain(dead_letters, CAMPAIGN_SEND)
    assert sorted((m, b) for m, b, _h in replayed) == [("job-1", b'{"job":1}'), ("job-2", b'{"job":2}')]
    for _m, _b, headers in replayed:
        assert headers.get("x-postman-attempt") == 2, "the message's own headers are kept"
        assert "x-death" not in headers and "x-first-death-queue" not in headers
    _wait_for(dead_letters, DEAD_LETTER_QUEUE, 1)
    left = _drain(dead_letters, DEAD_LETTER_QUEUE)
    assert [m for m, _b, _h in left] == ["mail-1"]


def test_purge_drops_a_queues_dead_letters_and_keeps_the_others(stores, dead_letters):
    result = postmanctl(stores.amqp_url, "purge", EMAIL_SEND)
    assert result.returncode == 0, result.stderr
    assert "1 dead letter(s) from email.send purged" in result.stderr
    assert _count(dead_letters, EMAIL_SEND) == 0
    _wait_for(dead_letters, DEAD_LETTER_QUEUE, 2)
    left = _drain(dead_letters, DEAD_LETTER_QUEUE)
    assert sorted(m for m, _b, _h in left) == ["job-1", "job-2"]


def test_a_name_that_is_no_work_queue_is_refused_clearly(stores, dead_letters):
    result = postmanctl(stores.amqp_url, "purge", "no.such.queue")
    assert result.returncode == 2
    assert "'no.such.queue' is not a work queue" in result.stderr and "Traceback" not in result.stderr
    assert _count(dead_letters, DEAD_LETTER_QUEUE) == 3


def test_an_unreachable_broker_is_a_clear_refusal(stores):
    result = postmanctl("amqp://guest:guest@127.0.0.1:1/", "list", real_process=True)
    assert result.returncode == 2
    assert "cannot reach RabbitMQ" in result.stderr and "Traceback" not in result.stderr

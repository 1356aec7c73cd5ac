"""Fakes started once for a test module (the services of the module are wired to them) and made fresh for each of
its tests: what a test asserts on a fake (``twilio.sent``, ``smtp.messages``) and what it changes on it (a number
made invalid, an address accepted) are then its own, as with a fake of its own, without restarting the services.

A fake is made fresh only once it is quiet: the status callbacks the Twilio fake still owes for an earlier test's
messages are made first, so that none of them lands in the next test's ``callbacks``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pika
import pytest

from postman_shared.broker.topology import DEAD_LETTER_QUEUE, QUEUE_CONSUMERS, WAIT_QUEUES
from tests.fakes.ses import FakeSes
from tests.fakes.smtp import FakeSmtpServer
from tests.fakes.sns import FakeSns
from tests.fakes.twilio import FakeTwilio


def fresh_twilio(twilio: FakeTwilio, invalid: set[str] | frozenset[str] = frozenset(),
                 timeout: float = 30.0) -> FakeTwilio:
    """``twilio`` as it was started with ``invalid`` (and no other refusal, throttling or sent callback setting):
    nothing received, no callback made or owed."""
    owed_each = 2 if twilio.sent_callback else 1
    deadline = time.monotonic() + timeout
    while True:
        with twilio.lock:
            owed = owed_each * sum(1 for r in twilio.received if r.answered == 201 and r.status_callback)
            if len(twilio.callbacks) >= owed:
                twilio.received.clear()
                twilio.callbacks.clear()
                break
        if time.monotonic() > deadline:
            raise AssertionError(f"the Twilio fake still owes {owed - len(twilio.callbacks)} status callbacks")
        time.sleep(0.02)
    twilio.invalid = set(invalid)
    twilio.stopped = set()
    twilio.undelivered = set()
    twilio.sent_callback = True
    twilio.throttle_remaining = twilio.unavailable_remaining = 0
    return twilio


def fresh_smtp(smtp: FakeSmtpServer, refuse: dict[str, str] | None = None) -> FakeSmtpServer:
    """``smtp`` as it was started with ``refuse`` (no deferral, no delay): no message received."""
    smtp.reset(refuse)
    return smtp


def fresh_ses(ses: FakeSes) -> FakeSes:
    """``ses`` as it was started with no argument: nothing sent, no rejection, throttling or identity."""
    with ses.lock:
        ses.sent.clear()
        ses.reject = set()
        ses.throttle_remaining = 0
        ses.identities = {}
    return ses


@contextmanager
def fake_aws_environment(folder: Path) -> Iterator[None]:
    """The fake AWS credentials and no real AWS configuration of the machine (the gateway conftest's ``ses`` fixture
    does the same for one test), for a module whose services build their boto3 clients once."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
        patch.setenv("AWS_CONFIG_FILE", str(folder / "no-aws-config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "no-aws-credentials"))
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield


def fresh_sns(sns: FakeSns) -> FakeSns:
    """``sns`` with no subscription confirmed and its certificate not fetched yet (the gateway's app, new for each
    test, caches it afresh)."""
    sns.reset()
    return sns


def purge_queues(amqp_url: str) -> None:
    """Empties every wait, work and dead-letter queue of the run's vhost (as the ``amqp_channel`` fixture does for one
    test), before a module starts its senders: what an earlier module left there (the owner notices of its campaigns,
    a campaign it sent without a sender running) is not this module's, and its senders would deliver it to this
    module's fakes."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        for queue in (*WAIT_QUEUES, *QUEUE_CONSUMERS, DEAD_LETTER_QUEUE):
            channel.queue_purge(queue)
    finally:
        connection.close()

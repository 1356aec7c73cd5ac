"""The campaign's send rate holds at Twilio across two sender-sms replicas sharing one schedule in Redis, and a
sender that stops while messages wait for their slots puts them back unsent."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
import redis
from sqlalchemy import text

from postman_shared.runtime import ServiceRuntime
from postman_shared.settings import Settings
from tests.fakes.twilio import FakeTwilio
from tests.integration.sender_email.support import wait_for_events, wait_until
from tests.integration.sender_sms.conftest import rendered_sms
from tests.support.inprocess import running

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    return REDIS_URL  # schedules are keyed by campaign id, unique to each test; they expire on their own


@contextmanager
def sender_replicas(settings: Settings, count: int) -> Iterator[list[ServiceRuntime]]:
    """``count`` sender-sms runtimes in this process, each built by the service's own bootstrap."""
    bootstrap = importlib.import_module("postman_sender_sms.bootstrap")
    started: list[ServiceRuntime] = []
    try:
        for _ in range(count):
            runtime = bootstrap.build(settings)
            runtime.start()
            started.append(runtime)
        yield started
    finally:
        for runtime in started:
            runtime.stop()


def _replica_settings(sms_settings: Settings, twilio: FakeTwilio, redis_url: str) -> Settings:
    # Small batches and prefetch, so both replicas get messages of the campaign at the same time.
    return replace(sms_settings, twilio_api_base=twilio.base_url, redis_url=redis_url, sender_batch_size=5,
                   sender_prefetch=10)


def _recorded_count(database, campaign_id: int) -> int:
    with database.session() as session:
        return session.execute(text("SELECT count(*) FROM sms_deliveries WHERE campaign_id = :c"),
                               {"c": campaign_id}).scalar_one()


def test_two_replicas_hold_the_campaigns_rate_at_twilio_and_send_each_message_once(
        sms_settings, amqp_channel, database, publish, campaign_id, twilio_credential, redis_url):
    count, rate = 60, 20
    messages = rendered_sms(campaign_id, twilio_credential, count, rate=rate)
    with FakeTwilio(api_key=twilio_credential.api_key, api_secret=twilio_credential.api_secret) as twilio, \
            running(_replica_settings(sms_settings, twilio, redis_url), "campaign"), \
            sender_replicas(_replica_settings(sms_settings, twilio, redis_url), 2):
        publish(messages)
        events = wait_for_events(amqp_channel, count, timeout=60)
        sent = twilio.sent

    assert sorted(e["recipient_id"] for e in events) == sorted(m.recipient_id for m in messages)
    assert sorted(r.to for r in sent) == sorted(m.to for m in messages)  # each exactly once
    arrivals = sorted(r.received_at for r in sent)
    assert arrivals[-1] - arrivals[0] >= (count - 1) / rate * 0.9


def test_a_sender_stopping_while_messages_wait_for_their_slots_puts_them_back_unsent(
        sms_settings, amqp_channel, database, publish, campaign_id, twilio_credential):
    messages = rendered_sms(campaign_id, twilio_credential, 6, rate=1)
    with FakeTwilio(api_key=twilio_credential.api_key, api_secret=twilio_credential.api_secret) as twilio:
        settings = replace(sms_settings, twilio_api_base=twilio.base_url)
        with running(settings, "campaign"):
            with sender_replicas(settings, 1):
                publish(messages)
                wait_until(lambda: len(twilio.sent) >= 1, what="the first message at Twilio")
            sent_before_stop = len(twilio.sent)
            assert sent_before_stop < len(messages)
            assert _recorded_count(database, campaign_id) == sent_before_stop

            with sender_replicas(settings, 1):
                events = wait_for_events(amqp_channel, len(messages), timeout=30)
            sent = twilio.sent

    assert sorted(r.to for r in sent) == sorted(m.to for m in messages)  # the put-back ones once, none twice
    assert sorted(e["recipient_id"] for e in events) == sorted(m.recipient_id for m in messages)

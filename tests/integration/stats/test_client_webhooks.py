"""Client webhooks' delivery rules on the real database (stats' handler with a stand-in for the HTTP POST): the
24-hour limit, the pause after a day of failures, the stand-in left for an attempt still in flight, the events the
services write in the transaction of their change (campaign halted, transactional SMS), and migration 0021."""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

from postman.v1 import common_pb2
from postman_campaign import models as campaign_models
from postman_campaign.stopping import halt_campaign
from postman_sender_sms import transactional as sms_transactional
from postman_sender_sms import webhook_events as sms_events
from postman_sender_sms.models import TransactionalSms
from postman_shared.broker.topology import CLIENT_WEBHOOKS, CLIENT_WEBHOOKS_RETRY, OWNER_NOTICES
from postman_shared.broker.waiting import ATTEMPT_HEADER
from postman_shared.client_webhooks import Attempt, ClientWebhookEvent
from postman_shared.credentials import LocalMasterKey, Sealer, decode_master_key, new_master_key
from postman_shared.timestamps import utcnow
from postman_stats import client_webhooks
from postman_stats.client_webhooks import RECHECK_HEADER, Deliverer, WebhookConfig, WebhookHandler
from postman_stats.webhook_models import ClientWebhook, ClientWebhookAttempt
from postman_stats.webhook_models import outbox as stats_outbox

SEALER = Sealer(LocalMasterKey(decode_master_key(new_master_key(), "test key")))


@dataclass
class FakePost:
    answers: list[Attempt]
    calls: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    delay: float = 0.0

    def __call__(self, url, body, headers, timeout, allow_private=False, resolver=None):
        self.calls.append((url, body, dict(headers)))
        time.sleep(self.delay)
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


@dataclass
class FakePublisher:
    published: list = field(default_factory=list)

    def publish(self, messages, timeout: float = 60.0) -> None:
        self.published.extend(messages)


FAILED = Attempt(False, 500, "answered HTTP 500", 12)
OK = Attempt(True, 200, "", 8)


def make_handler(database, post, config=None, clock=time.time, wait_seconds=5.0):
    config = config or WebhookConfig(allow_private=True, retry_base_seconds=10, retry_hours=24,
                                     pause_after_failures=20)
    deliverer = Deliverer(lambda: SEALER, config, post=post)
    publisher = FakePublisher()
    handler = WebhookHandler(database, publisher, deliverer, ThreadPoolExecutor(4), clock=clock,
                             wait_seconds=wait_seconds)
    return handler, publisher, deliverer


def register(database, deliverer, user_id=None, kind="transactional"):
    user_id = user_id or secrets.randbelow(10**9) + 1
    row, secret, created = client_webhooks.put_webhook(database, deliverer, user_id, kind,
                                                       "http://127.0.0.1:9/hook")
    assert created and secret
    return row


def event(user_id, first_attempt_at=0.0, kind="transactional"):
    return ClientWebhookEvent(event_id=f"e-{secrets.token_hex(6)}", user_id=user_id, kind=kind, type="email.status",
                              occurred_at=utcnow().isoformat(), data={}, first_attempt_at=first_attempt_at)


def attempts_of(database, webhook_id):
    with database.session() as session:
        return list(session.execute(select(ClientWebhookAttempt.attempt, ClientWebhookAttempt.outcome,
                                           ClientWebhookAttempt.next_attempt_at)
                                    .where(ClientWebhookAttempt.webhook_id == webhook_id)
                                    .order_by(ClientWebhookAttempt.id)))


def test_a_failed_attempt_is_retried_later_with_the_next_attempt_number(database):
    post = FakePost([FAILED])
    handler, publisher, deliverer = make_handler(database, post)
    hook = register(database, deliverer)
    handler.deliver([(event(hook.user_id), 3)])
    [retry] = publisher.published
    assert retry.routing_key == CLIENT_WEBHOOKS_RETRY
    assert (retry.headers[ATTEMPT_HEADER], retry.expiration_ms) == (4, 40_000)  # after the third: 10 s, 20 s, 40 s
    assert retry.body["first_attempt_at"] > 0
    [(attempt, outcome, next_at)] = attempts_of(database, hook.id)
    assert (attempt, outcome) == (3, "failed") and next_at is not None


def test_an_event_is_given_up_24_hours_after_its_first_attempt(database):
    post = FakePost([FAILED])
    handler, publisher, deliverer = make_handler(database, post)
    hook = register(database, deliverer)
    handler.deliver([(event(hook.user_id, first_attempt_at=time.time() - 24 * 3600 + 5), 25)])
    assert publisher.published == []
    assert [(a, o) for a, o, _ in attempts_of(database, hook.id)] == [(25, "expired")]


def test_a_webhook_failing_for_a_day_is_paused_with_its_owners_notice_in_the_same_transaction(database):
    post = FakePost([FAILED])
    handler, publisher, deliverer = make_handler(database, post)
    hook = register(database, deliverer)
    with database.unit_of_work() as session:
        row = session.get(ClientWebhook, hook.id)
        row.consecutive_failures, row.failing_since = 2, utcnow() - timedelta(hours=24, minutes=1)
    handler.deliver([(event(hook.user_id), 1)])
    assert publisher.published == []  # no retry for a paused webhook
    with database.session() as session:
        row = session.get(ClientWebhook, hook.id)
        assert row.paused_at is not None and row.consecutive_failures == 3
        notices = session.execute(select(stats_outbox.c.routing_key, stats_outbox.c.body)
                                  .where(stats_outbox.c.body["user_id"].as_integer() == hook.user_id)).all()
    assert [(key, body["audit_action"]) for key, body in notices] == [(OWNER_NOTICES, "webhook.paused")]
    handler.deliver([(event(hook.user_id), 1)])
    assert len(post.calls) == 1  # a paused webhook is not called


def test_an_attempt_still_in_flight_leaves_a_stand_in_that_is_dropped_once_the_attempt_is_recorded(database):
    post = FakePost([OK], delay=0.6)
    handler, publisher, deliverer = make_handler(database, post, wait_seconds=0.05)
    hook = register(database, deliverer)
    first = event(hook.user_id)
    handler.deliver([(first, 1)])
    [stand_in] = publisher.published
    assert stand_in.headers[RECHECK_HEADER] == 1 and stand_in.headers[ATTEMPT_HEADER] == 1
    time.sleep(1.0)  # the slow attempt is recorded
    assert [(a, o) for a, o, _ in attempts_of(database, hook.id)] == [(1, "delivered")]
    again = ClientWebhookEvent.from_dict(stand_in.body)
    handler.deliver([(again, 1)], rechecks={(again.event_id, 1)})
    time.sleep(0.2)
    assert len(post.calls) == 1  # the stand-in of an attempt that was recorded is dropped
    unrecorded = event(hook.user_id)
    handler.deliver([(unrecorded, 1)], rechecks={(unrecorded.event_id, 1)})
    time.sleep(1.0)
    assert len(post.calls) == 2  # one whose attempt was never recorded (the process died) is delivered


def test_the_delivery_log_keeps_the_last_attempts_only(database):
    post = FakePost([OK])
    config = WebhookConfig(allow_private=True, log_size=3)
    handler, _publisher, deliverer = make_handler(database, post, config=config)
    hook = register(database, deliverer)
    handler.deliver([(event(hook.user_id), 1) for _ in range(5)])
    time.sleep(0.2)
    assert len(attempts_of(database, hook.id)) == 3


def test_a_halt_writes_the_campaign_event_with_the_halt(database, make_campaign):
    rows = make_campaign(valid=3, job_status="SENDING")
    counts = common_pb2.OutcomeCounts(sent=2, invalid=1, hard_bounced=1)
    halt_campaign(database, lambda: None, rows.id, rows.job_id, "2 of 3 bounced", counts, "http://localhost:8080")
    with database.session() as session:
        bodies = [body for key, body in session.execute(
            select(campaign_models.outbox.c.routing_key, campaign_models.outbox.c.body)) if key == CLIENT_WEBHOOKS
            and body["event_id"] == f"campaign-halted-{rows.job_id}"]
    [halted] = bodies
    assert (halted["user_id"], halted["kind"], halted["type"]) == (rows.user_id, "campaign", "campaign.halted")
    assert halted["data"]["reason"] == "2 of 3 bounced"
    assert (halted["data"]["counts"]["sent"], halted["data"]["counts"]["unsent"]) == (2, 0)


def test_a_transactional_sms_receipt_writes_its_status_event_with_the_change(database):
    with database.unit_of_work() as session:
        sms = TransactionalSms(user_id=7, credentials_label="moh", recipient="+6591234567", body="Hi",
                               status="ACCEPTED")
        session.add(sms)
        session.flush()
        sms_id = sms.id
    assert sms_transactional.apply_receipt(database, sms_id, "DELIVERED", None)
    assert not sms_transactional.apply_receipt(database, sms_id, "DELIVERED", None)  # a repeat changes nothing
    with database.session() as session:
        bodies = [body for (body,) in session.execute(select(sms_events.outbox.c.body))
                  if body["data"]["id"] == str(sms_id)]
    assert [(b["type"], b["data"]["status"], b["event_id"]) for b in bodies] == [
        ("sms.status", "DELIVERED", f"sms-{sms_id}-delivered")]


def test_migration_0021_follows_0020_and_makes_the_tables(database):
    script = ScriptDirectory.from_config(Config("alembic.ini"))
    revision = script.get_revision("0021")
    assert revision.down_revision == "0020"
    tables = set(inspect(database.engine).get_table_names())
    assert {"client_webhooks", "client_webhook_attempts", "stats_outbox", "sender_email_outbox",
            "sender_sms_outbox"} <= tables


@pytest.mark.parametrize("kind", ["transactional", "campaign"])
def test_a_secret_is_sealed_for_its_owner_and_kind_only(database, kind):
    _handler, _publisher, deliverer = make_handler(database, FakePost([OK]))
    hook = register(database, deliverer, kind=kind)
    with database.session() as session:
        row = session.get(ClientWebhook, hook.id)
        assert deliverer.secret_of(row).startswith("whsec_")
        assert b"whsec_" not in row.secret_sealed
        session.expunge(row)
    row.user_id += 1
    with pytest.raises(Exception):  # noqa: B017 - SealError: another owner's row does not open it
        deliverer.secret_of(row)

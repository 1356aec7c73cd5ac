"""The queues' delivery limit and dead-lettering as RabbitMQ policies, on the real broker (`postmanctl setup`'s
broker step, ``postman_ctl.broker_setup``): what is applied, that it takes effect, that changing the limit is safe,
and the upgrade of queues an older release created with arguments.

The tests that change policies use a vhost of their own, created and deleted here; the run's vhost (``stores``) is
only read. The management API's queue record (``effective_policy_definition``) is refreshed with its statistics
(every few seconds), so those reads wait for it.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pika
import pytest
import requests

from postman_ctl.broker_setup import holding_queue, prepare_broker
from postman_shared.broker.management import ManagementApi, ManagementApiError
from postman_shared.broker.policies import (
    POLICY_PREFIX,
    WORK_QUEUES_POLICY,
    desired_policies,
    wait_queue_definition,
    work_queue_definition,
)
from postman_shared.broker.topology import (
    CAMPAIGN_SEND,
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_QUEUE,
    EMAIL_SEND,
    EMAIL_SEND_RETRY,
    EXCHANGE,
    QUEUE_CONSUMERS,
    WAIT_QUEUES,
    declare_from_url,
)
from postman_shared.settings import Settings
from tests.support.stores import AMQP_SERVER, MANAGEMENT_URL, free_port

# What an older release declared (its topology.py): the arguments the upgrade has to take off.
LEGACY_WORK_ARGUMENTS = {"x-queue-type": "quorum", "x-delivery-limit": 20,
                         "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE}


def legacy_wait_arguments(drains_to: str) -> dict[str, object]:
    return {"x-queue-type": "quorum", "x-dead-letter-exchange": EXCHANGE, "x-dead-letter-routing-key": drains_to,
            "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}


@dataclass(frozen=True)
class Vhost:
    amqp_url: str
    api: ManagementApi

    def setup(self, delivery_limit: int) -> list[str]:
        """`postmanctl setup`'s broker step with this QUEUE_DELIVERY_LIMIT."""
        return prepare_broker(self.amqp_url, MANAGEMENT_URL, delivery_limit)

    def channel(self) -> pika.adapters.blocking_connection.BlockingChannel:
        return pika.BlockingConnection(pika.URLParameters(self.amqp_url)).channel()


def _admin(api: ManagementApi, method: str, path: str, body: object = None) -> None:
    response = requests.request(method, api.base_url + path, json=body, auth=(api.user, api.password), timeout=30)
    assert response.status_code < 300, (method, path, response.status_code, response.text)


@pytest.fixture
def vhost() -> Iterator[Vhost]:
    name = f"postman_policies_{os.getpid()}_{secrets.token_hex(3)}"
    amqp_url = f"{AMQP_SERVER}/{quote(name, safe='')}"
    api = ManagementApi.from_urls(MANAGEMENT_URL, amqp_url)
    _admin(api, "PUT", f"/api/vhosts/{name}", {})
    _admin(api, "PUT", f"/api/permissions/{name}/{quote(api.user, safe='')}",
           {"configure": ".*", "write": ".*", "read": ".*"})
    yield Vhost(amqp_url, api)
    _admin(api, "DELETE", f"/api/vhosts/{name}")


def _eventually(check: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.25)


def _effective(api: ManagementApi, queue: str) -> dict[str, object]:
    record = api.queue(queue) or {}
    return dict(record.get("effective_policy_definition") or {})


def _deliveries_until_dead_lettered(amqp_url: str, queue: str, message_id: str) -> int:
    """Publishes one message to ``queue`` and returns it (nack, requeue) until RabbitMQ dead-letters it: how many
    times it was delivered. The dead-letter queue must be empty before."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_publish(EXCHANGE, queue, b"{}", pika.BasicProperties(message_id=message_id, delivery_mode=2),
                          mandatory=True)
    deliveries = 0
    deadline = time.monotonic() + 60
    try:
        while True:
            assert time.monotonic() < deadline, f"{message_id} was never dead-lettered ({deliveries} deliveries)"
            method, _properties, _body = channel.basic_get(queue)
            if method is not None:
                deliveries += 1
                channel.basic_nack(method.delivery_tag, requeue=True)
                continue
            method, properties, _body = channel.basic_get(DEAD_LETTER_QUEUE, auto_ack=True)
            if method is not None:
                assert properties.message_id == message_id
                assert properties.headers["x-first-death-reason"] in ("delivery_limit", b"delivery_limit")
                return deliveries
            time.sleep(0.02)
    finally:
        connection.close()


# --- what setup applies -------------------------------------------------------------------------------------------

def test_the_run_vhost_has_the_policies_of_the_settings_and_every_queue_is_under_its_own(stores):
    api = ManagementApi.from_urls(MANAGEMENT_URL, stores.amqp_url)
    limit = Settings().queue_delivery_limit
    ours = {p["name"]: p for p in api.policies() if p["name"].startswith(POLICY_PREFIX)}
    assert ours == {policy.name: {"vhost": stores.vhost, "name": policy.name, **policy.body()}
                    for policy in desired_policies(limit)}
    expected = {queue: work_queue_definition(limit) for queue in QUEUE_CONSUMERS}
    expected |= {queue: wait_queue_definition(drains_to) for queue, drains_to in WAIT_QUEUES.items()}
    assert expected[EMAIL_SEND] == {"delivery-limit": limit, "dead-letter-exchange": DEAD_LETTER_EXCHANGE}
    assert expected[EMAIL_SEND_RETRY] == {"dead-letter-exchange": EXCHANGE, "dead-letter-routing-key": EMAIL_SEND,
                                          "dead-letter-strategy": "at-least-once", "overflow": "reject-publish"}
    for queue, definition in expected.items():
        _eventually(lambda q=queue, d=definition: _effective(api, q) == d,
                    f"{queue}: effective policy {_effective(api, queue)}, expected {definition}")
        assert (api.queue(queue) or {})["arguments"] == {"x-queue-type": "quorum"}, queue


def test_setup_is_idempotent_and_removes_only_the_stale_policies_it_owns(vhost):
    vhost.api.put_policy(f"{POLICY_PREFIX}retired", {"pattern": "^nothing$", "definition": {"max-length": 1},
                                                     "apply-to": "queues", "priority": 0})
    vhost.api.put_policy("operators-own", {"pattern": "^nothing$", "definition": {"max-length": 1},
                                           "apply-to": "queues", "priority": 0})
    first = vhost.setup(20)
    assert f"removed RabbitMQ policy {POLICY_PREFIX}retired (no longer used)" in first
    assert (f"set RabbitMQ policy {WORK_QUEUES_POLICY} (dead-letter-exchange={DEAD_LETTER_EXCHANGE}, "
            "delivery-limit=20)") in first
    assert vhost.setup(20) == ["RabbitMQ topology declared"], "a second run changes nothing"
    names = {p["name"] for p in vhost.api.policies()}
    assert names == {"operators-own", *(policy.name for policy in desired_policies(20))}


# --- the regression: a changed delivery limit ---------------------------------------------------------------------

def test_a_changed_delivery_limit_applies_to_the_existing_queues_and_services_still_declare_them(vhost):
    vhost.setup(2)
    # Returned more than its delivery limit times, a message is dead-lettered: 2 returns, the 3rd delivery is last.
    assert _deliveries_until_dead_lettered(vhost.amqp_url, CAMPAIGN_SEND, "before") == 3

    done = vhost.setup(4)  # the setup Job after QUEUE_DELIVERY_LIMIT changed (it used to fail: PRECONDITION_FAILED)
    assert (f"updated RabbitMQ policy {WORK_QUEUES_POLICY} (dead-letter-exchange={DEAD_LETTER_EXCHANGE}, "
            "delivery-limit=4)") in done
    assert declare_from_url(vhost.amqp_url) == [], "a service (re)starting declares every queue without a refusal"
    _eventually(lambda: _effective(vhost.api, CAMPAIGN_SEND).get("delivery-limit") == 4,
                f"the effective policy of {CAMPAIGN_SEND} is {_effective(vhost.api, CAMPAIGN_SEND)}")
    assert _deliveries_until_dead_lettered(vhost.amqp_url, CAMPAIGN_SEND, "after") == 5


# --- the upgrade from queue arguments -----------------------------------------------------------------------------

def test_setup_recreates_idle_queues_an_older_release_declared_with_arguments_and_keeps_their_messages(vhost):
    channel = vhost.channel()
    channel.exchange_declare(EXCHANGE, exchange_type="direct", durable=True)
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="fanout", durable=True)
    legacy = {EMAIL_SEND: LEGACY_WORK_ARGUMENTS, CAMPAIGN_SEND: LEGACY_WORK_ARGUMENTS,
              EMAIL_SEND_RETRY: legacy_wait_arguments(EMAIL_SEND)}
    for queue, arguments in legacy.items():
        channel.queue_declare(queue, durable=True, arguments=arguments)
        channel.queue_bind(queue, EXCHANGE, routing_key=queue)
    channel.confirm_delivery()
    for n in range(3):
        channel.basic_publish(EXCHANGE, EMAIL_SEND, f'{{"n":{n}}}'.encode(),
                              pika.BasicProperties(message_id=f"e{n}", delivery_mode=2))
    channel.basic_publish(EXCHANGE, EMAIL_SEND_RETRY, b'{"w":0}',
                          pika.BasicProperties(message_id="w0", delivery_mode=2, expiration="3600000"))
    # The renderer is running: campaign.send has a consumer, so it is not touched.
    renderer = vhost.channel()
    renderer.basic_consume(CAMPAIGN_SEND, lambda *args: None)

    # A new release's service starting before setup ran: the old queues are left as they are, no refusal.
    assert sorted(declare_from_url(vhost.amqp_url)) == sorted(legacy)
    done = vhost.setup(5)

    assert f"{EMAIL_SEND}: recreated without the arguments of an older release (x-dead-letter-exchange=" \
           f"{DEAD_LETTER_EXCHANGE}, x-delivery-limit=20); 3 message(s) kept" in done
    assert any(line.startswith(f"{EMAIL_SEND_RETRY}: recreated") and "1 message(s) kept" in line for line in done)
    kept = [line for line in done if line.startswith(f"{CAMPAIGN_SEND} NOT upgraded")]
    assert kept and "1 consumer(s) attached" in kept[0] and "Stop renderer" in kept[0], done
    assert (vhost.api.queue(EMAIL_SEND) or {})["arguments"] == {"x-queue-type": "quorum"}
    assert (vhost.api.queue(EMAIL_SEND_RETRY) or {})["arguments"] == {"x-queue-type": "quorum"}
    assert (vhost.api.queue(CAMPAIGN_SEND) or {})["arguments"] == LEGACY_WORK_ARGUMENTS
    assert vhost.api.queue(holding_queue(EMAIL_SEND)) is None and vhost.api.queue(holding_queue(CAMPAIGN_SEND)) is None

    check = vhost.channel()
    got = [check.basic_get(EMAIL_SEND, auto_ack=True) for _ in range(3)]
    assert sorted((p.message_id, b) for _m, p, b in got) == [("e0", b'{"n":0}'), ("e1", b'{"n":1}'),
                                                              ("e2", b'{"n":2}')]
    _m, properties, body = check.basic_get(EMAIL_SEND_RETRY, auto_ack=True)
    assert (properties.message_id, body, properties.expiration) == ("w0", b'{"w":0}', "3600000")
    # The recreated queue is under the policy alone: its limit is the new one, not the old argument's 20.
    assert _deliveries_until_dead_lettered(vhost.amqp_url, EMAIL_SEND, "poison") == 6

    renderer.connection.close()  # the renderer stopped: the next setup finishes the upgrade
    assert f"{CAMPAIGN_SEND}: recreated without the arguments of an older release (x-dead-letter-exchange=" \
           f"{DEAD_LETTER_EXCHANGE}, x-delivery-limit=20); 0 message(s) kept" in vhost.setup(5)
    assert (vhost.api.queue(CAMPAIGN_SEND) or {})["arguments"] == {"x-queue-type": "quorum"}


def test_a_recreated_wait_queue_still_drains_into_its_work_queue(vhost):
    channel = vhost.channel()
    channel.exchange_declare(EXCHANGE, exchange_type="direct", durable=True)
    channel.queue_declare(EMAIL_SEND_RETRY, durable=True, arguments=legacy_wait_arguments(EMAIL_SEND))
    vhost.setup(20)
    assert (vhost.api.queue(EMAIL_SEND_RETRY) or {})["arguments"] == {"x-queue-type": "quorum"}
    channel.confirm_delivery()
    channel.basic_publish(EXCHANGE, EMAIL_SEND_RETRY, b"{}", pika.BasicProperties(message_id="later",
                                                                                  expiration="100"))
    deadline = time.monotonic() + 30
    while (got := channel.basic_get(EMAIL_SEND, auto_ack=True))[0] is None:
        assert time.monotonic() < deadline, "the message never came back from the recreated wait queue"
        time.sleep(0.02)
    assert got[1].message_id == "later"


def test_setup_empties_a_holding_queue_an_interrupted_upgrade_left(vhost):
    vhost.setup(20)
    channel = vhost.channel()
    channel.confirm_delivery()
    channel.queue_declare(holding_queue(EMAIL_SEND), durable=True, arguments=LEGACY_WORK_ARGUMENTS)
    channel.basic_publish("", holding_queue(EMAIL_SEND), b"{}", pika.BasicProperties(message_id="held"))
    done = vhost.setup(20)
    assert f"{EMAIL_SEND}: moved 1 message(s) back from {holding_queue(EMAIL_SEND)}, left by an interrupted " \
           "upgrade" in done
    assert vhost.api.queue(holding_queue(EMAIL_SEND)) is None
    assert channel.basic_get(EMAIL_SEND, auto_ack=True)[1].message_id == "held"


# --- clear errors ---------------------------------------------------------------------------------------------------

def test_an_unreachable_management_api_is_named_with_what_to_check(stores):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ManagementApiError) as raised:
        ManagementApi.from_urls(url, stores.amqp_url).policies()
    assert f"not reachable at {url}" in str(raised.value)
    assert "rabbitmq-plugins enable rabbitmq_management" in str(raised.value)


def test_a_refused_user_is_named_with_what_to_check(stores):
    api = ManagementApi.from_urls(MANAGEMENT_URL, stores.amqp_url)
    wrong = ManagementApi(api.base_url, "nobody", "wrong", api.vhost)
    with pytest.raises(ManagementApiError) as raised:
        wrong.policies()
    assert "refused user 'nobody' for GET" in str(raised.value) and "(401" in str(raised.value)
    assert "policymaker" in str(raised.value)


def test_a_user_without_the_policymaker_tag_is_told_to_get_it(stores, vhost):
    """A user with AMQP rights and the management tag can read, but not set policies: setup says what is missing."""
    user = f"postman_test_{secrets.token_hex(4)}"
    _admin(vhost.api, "PUT", f"/api/users/{user}", {"password": "pw", "tags": "management"})
    try:
        _admin(vhost.api, "PUT", f"/api/permissions/{quote(vhost.api.vhost, safe='')}/{user}",
               {"configure": ".*", "write": ".*", "read": ".*"})
        amqp_url = vhost.amqp_url.replace(f"{vhost.api.user}:{vhost.api.password}@", f"{user}:pw@", 1)
        assert user in amqp_url
        with pytest.raises(ManagementApiError) as raised:
            prepare_broker(amqp_url, MANAGEMENT_URL, 20)
        assert f"refused user '{user}' for PUT" in str(raised.value)
        assert f"rabbitmqctl set_user_tags {user} policymaker" in str(raised.value)
    finally:
        _admin(vhost.api, "DELETE", f"/api/users/{user}")

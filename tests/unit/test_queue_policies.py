"""The desired queue policies and the management API's address, without a broker (the broker: integration's
test_queue_policies.py)."""

from __future__ import annotations

import re

import pytest

from postman_shared.broker.management import ManagementApi, ManagementApiError
from postman_shared.broker.policies import POLICY_PREFIX, desired_policies, exactly
from postman_shared.broker.topology import (
    DEAD_LETTER_QUEUE,
    EMAIL_SEND,
    EMAIL_SEND_RETRY,
    QUEUE_CONSUMERS,
    WAIT_QUEUES,
)


def _policies_of(queue: str, limit: int = 20) -> list[str]:
    return [p.name for p in desired_policies(limit) if re.search(p.pattern, queue)]


def test_every_queue_is_under_exactly_one_policy_of_ours():
    # RabbitMQ applies one policy per queue: two of ours on one queue would leave one definition out.
    for queue in (*QUEUE_CONSUMERS, *WAIT_QUEUES):
        assert len(_policies_of(queue)) == 1, queue
    assert _policies_of(DEAD_LETTER_QUEUE) == [f"{POLICY_PREFIX}dead-letters"]
    assert all(p.name.startswith(POLICY_PREFIX) and p.apply_to == "queues" for p in desired_policies(20))


def test_patterns_match_our_names_exactly_not_their_look_alikes():
    pattern = exactly([EMAIL_SEND, "a+b"])
    assert re.search(pattern, EMAIL_SEND) and re.search(pattern, "a+b")
    for other in ("emailXsend", f"{EMAIL_SEND}.retry", f"x{EMAIL_SEND}", "aab", "a+bb"):
        assert not re.search(pattern, other), other
    assert _policies_of(EMAIL_SEND_RETRY) == [f"{POLICY_PREFIX}wait-{EMAIL_SEND_RETRY}"]


def test_dead_letters_are_kept_for_the_retention_setting_only():
    (dead,) = [p for p in desired_policies(20, dead_letter_days=3) if re.search(p.pattern, DEAD_LETTER_QUEUE)]
    assert dead.definition == {"message-ttl": 3 * 86_400_000}, "no dead-letter exchange: an expired one is gone"


def test_the_delivery_limit_is_the_setting():
    (work,) = [p for p in desired_policies(7) if re.search(p.pattern, EMAIL_SEND)]
    assert work.definition["delivery-limit"] == 7


@pytest.mark.parametrize(("management_url", "amqp_url", "expected"), [
    ("", "amqp://guest:guest@127.0.0.1:5672/%2F", ("http://127.0.0.1:15672", "guest", "guest", "/")),
    ("", "amqp://u:p%40ss@rabbit.local/", ("http://rabbit.local:15672", "u", "p@ss", "/")),
    ("", "amqp://u:p@rabbit.local", ("http://rabbit.local:15672", "u", "p", "/")),
    ("https://rabbit.example:15671/", "amqps://app:secret@rabbit.example:5671/post%2Fman",
     ("https://rabbit.example:15671", "app", "secret", "post/man")),
    ("https://admin:a%3Ab@rabbit.example/mgmt", "amqps://app:secret@rabbit.example/postman",
     ("https://rabbit.example/mgmt", "admin", "a:b", "postman")),
    ("", "amqp://u:p@[::1]:5672/v", ("http://[::1]:15672", "u", "p", "v")),
])
def test_the_management_api_address_credentials_and_vhost(management_url, amqp_url, expected):
    api = ManagementApi.from_urls(management_url, amqp_url)
    assert (api.base_url, api.user, api.password, api.vhost) == expected


def test_a_management_url_that_is_not_http_is_refused_clearly():
    with pytest.raises(ManagementApiError, match="RABBITMQ_MANAGEMENT_URL must be an http:// or https:// URL"):
        ManagementApi.from_urls("amqp://rabbit:15672", "amqp://u:p@rabbit/")

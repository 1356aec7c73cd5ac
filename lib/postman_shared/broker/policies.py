"""The queues' delivery limit and dead-lettering, as RabbitMQ policies that `postmanctl setup` applies.

Why policies rather than queue arguments: a queue's arguments are fixed when it is created, and every service
redeclares the topology at start. With ``x-delivery-limit`` an argument, changing ``QUEUE_DELIVERY_LIMIT`` made every
redeclare fail with PRECONDITION_FAILED while the pods looked healthy. A policy can change at any time and applies to
the existing queue at once; the services declare queues with ``x-queue-type`` only, which never depends on a setting.

RabbitMQ applies one policy per queue (the matching one of highest priority), so each group of queues gets one
complete definition here: the work queues share one, and each wait queue has its own (its dead-letter routing key is
the work queue it drains to). Every pattern matches exactly our own queue names, anchored and escaped, so no other
queue of the vhost picks up a policy by accident. Policies named with ``POLICY_PREFIX`` belong to us: setup removes
those it no longer wants, and never touches any other.

To add a limit of its own (``max-length``, say), an operator uses an *operator* policy: RabbitMQ combines those with
these. A user policy of higher priority would replace ours and switch dead-lettering off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from postman_shared.broker.management import ManagementApi
from postman_shared.broker.topology import (
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_QUEUE,
    EXCHANGE,
    QUEUE_CONSUMERS,
    WAIT_QUEUES,
)

POLICY_PREFIX = "postman-"
PRIORITY = 100  # above a default (0) policy someone adds for the whole vhost, which would otherwise replace ours
WORK_QUEUES_POLICY = f"{POLICY_PREFIX}work-queues"
DEAD_LETTERS_POLICY = f"{POLICY_PREFIX}dead-letters"
DEAD_LETTER_RETENTION_DAYS = 14  # the setting's default (DEAD_LETTER_RETENTION_DAYS)
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Policy:
    name: str
    pattern: str
    definition: Mapping[str, Any] = field(default_factory=dict)
    priority: int = PRIORITY
    apply_to: str = "queues"

    def body(self) -> dict[str, Any]:
        """The JSON of PUT /api/policies/{vhost}/{name}."""
        return {"pattern": self.pattern, "definition": dict(self.definition), "priority": self.priority,
                "apply-to": self.apply_to}


def exactly(names: Iterable[str]) -> str:
    """A pattern matching exactly these queue names. ``re.escape`` on our own constant names: RabbitMQ (PCRE) reads
    a backslash before a non-alphanumeric character as that character, as Python does."""
    return "^(?:" + "|".join(re.escape(name) for name in sorted(names)) + ")$"


def work_queue_definition(delivery_limit: int) -> dict[str, Any]:
    """A message returned more than ``delivery_limit`` times goes to the dead-letter queue, reason delivery_limit;
    a rejected one (malformed) too, reason rejected."""
    return {"delivery-limit": delivery_limit, "dead-letter-exchange": DEAD_LETTER_EXCHANGE}


def wait_queue_definition(drains_to: str) -> dict[str, Any]:
    """An expired message goes back to exchange ``postman`` with the routing key of the work queue it drains to.
    At-least-once: it leaves the wait queue only once the work queue has it (RabbitMQ 3.10+), so a retry is never
    lost on its way back; RabbitMQ requires overflow reject-publish for that strategy."""
    return {
        "dead-letter-exchange": EXCHANGE,
        "dead-letter-routing-key": drains_to,
        "dead-letter-strategy": "at-least-once",
        "overflow": "reject-publish",
    }


def dead_letter_definition(retention_days: int) -> dict[str, Any]:
    """A dead letter is dropped ``retention_days`` after it was dead-lettered (the queue has no dead-letter exchange
    of its own, so an expired message is gone): what is in it is personal data (rendered messages, addresses) kept
    only for an engineer to look at or replay (``postmanctl dlq``). Quorum queues honour it from RabbitMQ 3.10."""
    return {"message-ttl": retention_days * DAY_MS}


def desired_policies(delivery_limit: int,
                     dead_letter_days: int = DEAD_LETTER_RETENTION_DAYS) -> list[Policy]:
    """Every policy the topology needs, for this ``QUEUE_DELIVERY_LIMIT`` and ``DEAD_LETTER_RETENTION_DAYS``."""
    policies = [Policy(WORK_QUEUES_POLICY, exactly(QUEUE_CONSUMERS), work_queue_definition(delivery_limit)),
                Policy(DEAD_LETTERS_POLICY, exactly([DEAD_LETTER_QUEUE]), dead_letter_definition(dead_letter_days))]
    for queue, drains_to in sorted(WAIT_QUEUES.items()):
        policies.append(Policy(f"{POLICY_PREFIX}wait-{queue}", exactly([queue]), wait_queue_definition(drains_to)))
    return policies


def _same(existing: Mapping[str, Any], wanted: Policy) -> bool:
    return (existing.get("pattern") == wanted.pattern and existing.get("definition") == dict(wanted.definition)
            and existing.get("priority") == wanted.priority and existing.get("apply-to") == wanted.apply_to)


def apply_policies(api: ManagementApi, policies: list[Policy]) -> list[str]:
    """Makes the vhost's ``postman-`` policies exactly ``policies``: sets those missing or different, removes the
    ones no longer wanted, leaves everyone else's alone. Idempotent. Returns what it changed, for printing."""
    existing = {p["name"]: p for p in api.policies() if str(p.get("name", "")).startswith(POLICY_PREFIX)}
    done = []
    for policy in policies:
        current = existing.get(policy.name)
        if current is None or not _same(current, policy):
            api.put_policy(policy.name, policy.body())
            done.append(f"{'set' if current is None else 'updated'} RabbitMQ policy {policy.name} "
                        f"{_describe(policy.definition)}")
    for name in sorted(set(existing) - {p.name for p in policies}):
        api.delete_policy(name)
        done.append(f"removed RabbitMQ policy {name} (no longer used)")
    return done


def _describe(definition: Mapping[str, Any]) -> str:
    return "(" + ", ".join(f"{key}={value}" for key, value in sorted(definition.items())) + ")"

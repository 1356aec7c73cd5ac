"""Every declared work queue has a running consumer, in the service topology.py says, once the whole system has
started; the wait queues and the dead-letter queue have none. RabbitMQ's management API says who consumes what in
this run's vhost; each consumer's connection is traced to the service process that holds its socket (Linux /proc).

tests/integration/test_broker.py checks the declarations against each other; only this test would see a consumer
that a service no longer starts."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from postman_shared.broker.management import ManagementApi
from postman_shared.broker.topology import DEAD_LETTER_QUEUE, QUEUE_CONSUMERS, WAIT_QUEUES
from tests.support.processes import RunningSystem
from tests.support.stores import MANAGEMENT_URL

pytestmark = pytest.mark.e2e


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    folder = Path(f"/proc/{pid}/fd")
    if not folder.exists():
        return inodes  # the process has ended
    for fd in folder.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if match := re.fullmatch(r"socket:\[(\d+)\]", target):
            inodes.add(match.group(1))
    return inodes


def _local_port_of_inode() -> dict[str, int]:
    """Every TCP socket of this machine's network namespace: inode -> local port."""
    ports = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            ports[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    return ports


def _service_of_port(system: RunningSystem) -> dict[int, str]:
    ports = _local_port_of_inode()
    return {ports[inode]: service for service, pid in system.pids().items()
            for inode in _socket_inodes(pid) if inode in ports}


def _consuming_services(system: RunningSystem, api: ManagementApi) -> dict[str, set[str]]:
    """queue -> the services with a consumer on it (a connection no service process holds: `unknown:<port>`)."""
    owners = _service_of_port(system)
    found: dict[str, set[str]] = {}
    for consumer in api.consumers():
        if not consumer.get("channel_details"):  # a channel closing as we ask: the management API gives []
            continue
        port = consumer["channel_details"]["peer_port"]
        found.setdefault(consumer["queue"]["name"], set()).add(owners.get(port, f"unknown:{port}"))
    return found


def test_every_declared_work_queue_has_a_running_consumer_of_its_service(system, stores):
    api = ManagementApi.from_urls(MANAGEMENT_URL, stores.amqp_url)
    expected = {queue: {service} for queue, service in QUEUE_CONSUMERS.items()}
    deadline = time.monotonic() + 30  # the management API collects consumers every 5 s by default
    while (found := _consuming_services(system, api)) != expected and time.monotonic() < deadline:
        time.sleep(1)
    missing = sorted(queue for queue in QUEUE_CONSUMERS if not found.get(queue))
    assert not missing, f"work queues with no consumer once every service started: {missing}; consumers: {found}"
    wrong = {queue: sorted(found[queue]) for queue, service in QUEUE_CONSUMERS.items() if found[queue] != {service}}
    assert not wrong, f"work queues consumed by another service than topology.py's QUEUE_CONSUMERS says: {wrong}"
    without_consumers = {DEAD_LETTER_QUEUE, *WAIT_QUEUES}
    consumed = {queue: sorted(found[queue]) for queue in without_consumers if queue in found}
    assert not consumed, f"wait queues and the dead-letter queue have no consumer by design, yet: {consumed}"
    undeclared = sorted(set(found) - set(QUEUE_CONSUMERS) - without_consumers)
    assert not undeclared, f"consumers of queues topology.py does not declare: {undeclared}"

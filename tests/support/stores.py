"""Isolated stores for one test run: a fresh PostgreSQL database and a fresh RabbitMQ vhost.

Nothing a running `make run` uses is touched: the database and the vhost carry a run id and are dropped at the end.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
import subprocess
from dataclasses import dataclass
from urllib.parse import quote

import psycopg2

from postman_ctl.broker_setup import prepare_broker
from postman_ctl.setup import create_database, migrate
from postman_shared.settings import Settings

PG_SERVER = os.environ.get("TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
AMQP_SERVER = os.environ.get("TEST_AMQP_SERVER", "amqp://guest:guest@127.0.0.1:5672")
# Empty: port 15672 on AMQP_SERVER's host, as `postmanctl setup` derives it.
MANAGEMENT_URL = os.environ.get("TEST_RABBITMQ_MANAGEMENT_URL", "")


@dataclass(frozen=True)
class Stores:
    run_id: str
    database_url: str
    amqp_url: str
    vhost: str


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


def create_stores() -> Stores:
    run_id = f"{os.getpid()}_{secrets.token_hex(3)}"
    database_url = f"{PG_SERVER}/postman_test_{run_id}"
    create_database(database_url)
    migrate(database_url)
    vhost = f"postman_test_{run_id}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    amqp_url = f"{AMQP_SERVER}/{quote(vhost, safe='')}"
    # As `postmanctl setup` does it: the queue policies (delivery limit, dead-lettering), then the topology.
    prepare_broker(amqp_url, MANAGEMENT_URL, Settings.queue_delivery_limit)
    return Stores(run_id, database_url, amqp_url, vhost)


def drop_stores(stores: Stores) -> None:
    connection = psycopg2.connect(f"{PG_SERVER}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "postman_test_{stores.run_id}" WITH (FORCE)')
    connection.close()
    _rabbitmqctl("delete_vhost", stores.vhost)


# Ports for the test servers come from below the kernel's ephemeral range (32768-60999 on Linux): a port the kernel
# hands out for port 0 is also what it gives the next outgoing connection, so between choosing it and a service
# binding it, a client socket could take it ("Address already in use"). Ports are drawn at random from this range,
# never twice in one process, and checked free by binding. Under pytest-xdist (`make test-parallel`) each worker draws
# from its own slice of the range (gw0 the first, gw1 the second, ...): a port one worker chose but whose service has
# not bound it yet passes another worker's bind check, and two services would then race for it.
_PORT_RANGE = (20000, 32000)
_handed_out: set[int] = set()


def worker_port_range(worker: str | None = None, workers: str | None = None) -> tuple[int, int]:
    """This process's slice of _PORT_RANGE: all of it outside pytest-xdist, else the worker's share."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "") if worker is None else worker
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "") if workers is None else workers
    if not (worker.startswith("gw") and worker[2:].isdigit() and workers.isdigit() and int(workers) > 0):
        return _PORT_RANGE
    index, count = int(worker[2:]), int(workers)
    size = (_PORT_RANGE[1] - _PORT_RANGE[0]) // count
    low = _PORT_RANGE[0] + (index % count) * size
    return (low, low + size)


def free_port() -> int:
    port_range = worker_port_range()
    for _ in range(200):
        port = random.randrange(*port_range)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {port_range}")

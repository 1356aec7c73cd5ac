"""Fixtures shared by the whole suite: isolated stores, settings pointing at them, helpers to clean queues."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pika
import pytest

from postman_shared.broker.topology import DEAD_LETTER_QUEUE, QUEUE_CONSUMERS, WAIT_QUEUES
from postman_shared.db import Database
from postman_shared.grpc import client
from postman_shared.settings import Settings
from tests.support import service_identity
from tests.support.stores import Stores, create_stores, drop_stores, free_port

TESTDATA = Path(__file__).parent / "testdata"
TEST_SECRET = secrets.token_hex(32)  # this session's signing keys: 64 random hex characters


# `make test` (pytest-xdist, --dist loadgroup): a work unit is one test module, so the tests sharing a module's
# started system (services, fakes, a browser) stay on one worker, which starts it once; the contract suite is one
# unit, as its coverage test (run last, tests/contract/conftest.py) reads what the other modules drove in the same
# process. Done by the scheduler from the tests' ids: xdist 3.8 writes `xdist_group` marks into the ids through an
# attribute pytest 9 no longer reads, so the marks alone would group nothing.
_ONE_UNIT = ("tests/contract/",)
# The units are handed out longest first, so that the run does not end with one worker on a long browser module while
# the other has nothing left: a test here costs roughly in this order (browser and end-to-end tests start every
# service; unit tests take milliseconds and fill the gaps at the end). Within a rank, the unit with more tests first.
_SLOWEST_FIRST = ("tests/browser/", "tests/e2e/", "tests/contract/", "tests/integration/", "tests/security/",
                  "tests/deploy/", "tests/unit/")


def _unit_rank(unit: str) -> int:
    return next((rank for rank, folder in enumerate(_SLOWEST_FIRST) if unit.startswith(folder)), len(_SLOWEST_FIRST))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ModuleScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return next((folder for folder in _ONE_UNIT if module.startswith(folder)), module)

        def schedule(self) -> None:
            """xdist 3.8's ``LoadScopeScheduling.schedule`` with one change: the work queue in ``_unit_rank`` order
            (each worker's own collection is left as it is: the indexes sent to a worker refer to it)."""
            assert self.collection_is_completed
            if self.collection is not None:
                for node in self.nodes:
                    self._reschedule(node)
                return
            if not self._check_nodes_have_same_collection():
                self.log("**Different tests collected, aborting run**")
                return
            self.collection = list(next(iter(self.registered_collections.values())))
            if not self.collection:
                return
            units: dict[str, dict[str, bool]] = {}
            for nodeid in self.collection:
                units.setdefault(self._split_scope(nodeid), {})[nodeid] = False
            for unit, nodeids in sorted(units.items(), key=lambda item: (_unit_rank(item[0]), -len(item[1]))):
                self.workqueue[unit] = nodeids
            for _ in range(len(self.nodes) - len(self.workqueue)):
                unused, _assigned = self.assigned_work.popitem()
                unused.shutdown()
            for node in self.nodes:
                self._assign_work_unit(node)
            for node in self.nodes:
                self._reschedule(node)
            if not self.workqueue:
                for node in self.nodes:
                    node.shutdown()

    return ModuleScheduling(config, log)


@pytest.fixture(scope="session")
def stores() -> Iterator[Stores]:
    created = create_stores()
    yield created
    drop_stores(created)


@pytest.fixture(scope="session", autouse=True)
def test_process_identity() -> None:
    """The tests call services as the gateway does (with its certificate), unless one says it plays another."""
    client.use_identity(service_identity.identity("gateway"))


def settings_for(stores: Stores, folder: Path) -> Settings:
    """Settings for in-process use: isolated stores, folders under ``folder``, free ports."""
    base = Settings.from_env({})
    return replace(
        base,
        database_url=stores.database_url,
        amqp_url=stores.amqp_url,
        upload_dir=folder / "uploads",
        outbox_dir=folder / "outbox",
        gateway_port=free_port(),
        auth_addr=f"127.0.0.1:{free_port()}",
        campaign_addr=f"127.0.0.1:{free_port()}",
        renderer_addr=f"127.0.0.1:{free_port()}",
        stats_addr=f"127.0.0.1:{free_port()}",
        sms_sender_addr=f"127.0.0.1:{free_port()}",
        telegram_sender_addr=f"127.0.0.1:{free_port()}",
        email_sender_addr=f"127.0.0.1:{free_port()}",
        metrics_port=0,
        health_port=0,
        grpc_tls_dir=service_identity.certificate_dir(),  # mutual TLS, certificates made once per session
        log_format="console",
        # Not the development defaults: keys of the tests' own, good enough for services started with a PUBLIC_URL
        # that is not this machine (which refuse default, placeholder or short secrets: startup_checks).
        unsubscribe_keys=f"test1:{TEST_SECRET}",
        protect_decoy_key=TEST_SECRET,
        callback_signing_key=TEST_SECRET,
        upload_signing_key=TEST_SECRET,
    )


@pytest.fixture
def settings(stores: Stores, tmp_path: Path) -> Settings:
    """Settings for one test: its own folders and ports (services it starts are its own)."""
    return settings_for(stores, tmp_path)


@pytest.fixture(scope="module")
def module_settings(stores: Stores, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The same settings for every test of a module, for modules whose tests share services started once for the
    module (a module-scoped fixture starting them; a module's ``settings`` then returns these). Its tests must not
    depend on being alone: each makes its own users, campaigns and recipients and asserts only on those."""
    return settings_for(stores, tmp_path_factory.mktemp("module"))


@pytest.fixture
def database(stores: Stores) -> Iterator[Database]:
    db = Database(stores.database_url, pool_size=2)
    yield db
    db.dispose()


@pytest.fixture
def amqp_channel(stores: Stores) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    """A channel on the test vhost with every wait queue and work queue purged first (wait queues first: what they
    hold would come back into a work queue), and the dead-letter queue: what an earlier test of this vhost
    dead-lettered is not this test's (under `make test-parallel` a worker runs the tests in another order)."""
    connection = pika.BlockingConnection(pika.URLParameters(stores.amqp_url))
    channel = connection.channel()
    for queue in (*WAIT_QUEUES, *QUEUE_CONSUMERS, DEAD_LETTER_QUEUE):
        channel.queue_purge(queue)
    yield channel
    connection.close()

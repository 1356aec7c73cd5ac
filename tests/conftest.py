"""Fixtures shared by the whole suite: isolated stores, settings pointing at them, helpers to clean queues."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pika
import pytest

from postman_shared.broker.topology import QUEUE_CONSUMERS, WAIT_QUEUES
from postman_shared.db import Database
from postman_shared.settings import Settings
from tests.support.stores import Stores, create_stores, drop_stores, free_port

TESTDATA = Path(__file__).parent / "testdata"


@pytest.fixture(scope="session")
def stores() -> Iterator[Stores]:
    created = create_stores()
    yield created
    drop_stores(created)


@pytest.fixture
def settings(stores: Stores, tmp_path: Path) -> Settings:
    """Settings for in-process use: isolated stores, temporary folders, free ports."""
    base = Settings.from_env({})
    return replace(
        base,
        database_url=stores.database_url,
        amqp_url=stores.amqp_url,
        upload_dir=tmp_path / "uploads",
        outbox_dir=tmp_path / "outbox",
        gateway_port=free_port(),
        auth_addr=f"127.0.0.1:{free_port()}",
        campaign_addr=f"127.0.0.1:{free_port()}",
        renderer_addr=f"127.0.0.1:{free_port()}",
        stats_addr=f"127.0.0.1:{free_port()}",
        sms_sender_addr=f"127.0.0.1:{free_port()}",
        telegram_sender_addr=f"127.0.0.1:{free_port()}",
        email_sender_addr=f"127.0.0.1:{free_port()}",
        metrics_port=0,
        log_format="console",
        # Not the development default: tests sign unsubscribe links with a key of their own, whatever PUBLIC_URL.
        unsubscribe_keys="test1:test-only-unsubscribe-key",
        protect_decoy_key="test-only-protect-decoy-key",
    )


@pytest.fixture
def database(stores: Stores) -> Iterator[Database]:
    db = Database(stores.database_url, pool_size=2)
    yield db
    db.dispose()


@pytest.fixture
def amqp_channel(stores: Stores) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    """A channel on the test vhost with every wait queue and work queue purged first (wait queues first: what they
    hold would come back into a work queue)."""
    connection = pika.BlockingConnection(pika.URLParameters(stores.amqp_url))
    channel = connection.channel()
    for queue in (*WAIT_QUEUES, *QUEUE_CONSUMERS):
        channel.queue_purge(queue)
    yield channel
    connection.close()

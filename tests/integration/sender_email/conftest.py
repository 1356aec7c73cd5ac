"""Fixtures for the sender-email tests."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from postman_shared.broker import OutgoingMessage, Publisher
from postman_shared.broker.topology import EMAIL_SEND
from postman_shared.messages import RenderedEmail


@pytest.fixture
def campaign_id() -> int:
    """A campaign id (and the base of recipient ids) no other test of the run uses: the stores are shared."""
    return secrets.randbelow(10**9) + 1


@pytest.fixture
def publish(stores) -> Iterator[Callable[[list[RenderedEmail]], None]]:
    publisher = Publisher(stores.amqp_url, app_id="test")

    def _publish(emails: list[RenderedEmail]) -> None:
        publisher.publish([OutgoingMessage(EMAIL_SEND, e.to_dict(), e.message_id) for e in emails])

    yield _publish
    publisher.close()


@pytest.fixture
def aws_credentials(monkeypatch, tmp_path):
    """Fake AWS credentials, and no real AWS configuration read from the machine."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

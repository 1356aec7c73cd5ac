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

"""End-to-end fixtures shared by the email tests: a local SMTP server and the whole system as processes sending
to it. A test module that needs another set-up (a second replica, a bounce mailbox) defines its own ``system``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.smtp import FakeSmtpServer
from tests.support.processes import RunningSystem, start_system, stop_system


@pytest.fixture
def smtp() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer() as server:
        yield server


@pytest.fixture
def system(stores, tmp_path: Path, smtp: FakeSmtpServer) -> Iterator[RunningSystem]:
    running = start_system(stores, tmp_path, EMAIL_TRANSPORT="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port))
    yield running
    stop_system(running)

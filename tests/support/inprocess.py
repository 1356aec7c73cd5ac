"""Start real services inside the test process: each service's own ``bootstrap.build(settings)``, started and
stopped around a block. Every service talks to the others over real gRPC and RabbitMQ on the test stores."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

from postman_shared.runtime import ServiceRuntime
from postman_shared.settings import Settings

PACKAGES = {
    "auth": "postman_auth",
    "campaign": "postman_campaign",
    "renderer": "postman_renderer",
    "sender-email": "postman_sender_email",
    "sender-sms": "postman_sender_sms",
    "sender-telegram": "postman_sender_telegram",
    "stats": "postman_stats",
}


@contextmanager
def running(settings: Settings, *services: str) -> Iterator[dict[str, ServiceRuntime]]:
    """``with running(settings, "campaign", "renderer") as runtimes: ...``"""
    started: dict[str, ServiceRuntime] = {}
    try:
        for name in services:
            bootstrap = importlib.import_module(f"{PACKAGES[name]}.bootstrap")
            runtime = bootstrap.build(settings)
            runtime.start()
            started[name] = runtime
        yield started
    finally:
        for runtime in reversed(list(started.values())):
            runtime.stop()

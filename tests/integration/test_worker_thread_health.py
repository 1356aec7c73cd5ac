"""A service whose queue consumer or background loop has died says so on its health port (postman_shared.runtime).

Before, the thread's exception was logged and the pod went on answering SERVING while doing nothing: the kubelet
never restarted it. Now the overall status ("", which the liveness probe asks) and the named service's (readiness)
turn NOT_SERVING for good, with an error log naming the thread and ``postman_worker_threads_dead``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from postman_shared.broker.consumer import BatchConsumer
from postman_shared.runtime import ServiceRuntime
from postman_shared.settings import Settings
from tests.support.stores import free_port

SERVICE = "postman.v1.AuthService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def health(runtime: ServiceRuntime, service: str = "") -> int:
    """What the kubelet's gRPC probe sees: a plaintext Check on the health port ("" is liveness's question)."""
    assert runtime.grpc is not None and runtime.grpc.health_port
    with grpc.insecure_channel(f"127.0.0.1:{runtime.grpc.health_port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return int(reply.status)


def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def dead_gauge(thread: str) -> float | None:
    return REGISTRY.get_sample_value("postman_worker_threads_dead", {"service": "auth", "thread": thread})


@contextmanager
def runtime_with(settings: Settings, *, loops: tuple[Callable[[threading.Event], None], ...] = (),
                 consumers: tuple[BatchConsumer, ...] = ()) -> Iterator[ServiceRuntime]:
    runtime = ServiceRuntime("auth", replace(settings, health_port=free_port()))
    runtime.serve_grpc(settings.auth_addr, [], [SERVICE])
    for loop in loops:
        runtime.add_loop(loop)
    for consumer in consumers:
        runtime.add_consumer(consumer)
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


class Ticker:
    """A periodic loop that, once told to, fails the way a bug would: an exception escaping it, or returning."""

    def __init__(self, failure: str) -> None:
        self.failure = failure
        self.fail = threading.Event()

    def run(self, stopping: threading.Event) -> None:
        while not stopping.wait(0.02):
            if self.fail.is_set():
                if self.failure == "raise":
                    raise RuntimeError("ticker bug")
                return


class BrokenConsumer(BatchConsumer):
    """A consumer whose thread dies of something other than a lost connection (which it would reconnect from)."""

    def __init__(self, amqp_url: str) -> None:
        super().__init__(amqp_url, "campaign.send", lambda batch: None)
        self.fail = threading.Event()

    def run(self) -> None:
        self.fail.wait()
        raise ValueError("handler setup bug")


@pytest.mark.parametrize("failure", ["raise", "return"])
def test_a_loop_that_dies_turns_liveness_and_readiness_not_serving(settings, capsys, failure):
    ticker = Ticker(failure)
    with runtime_with(settings, loops=(ticker.run,)) as runtime:
        thread = "loop:test_worker_thread_health.Ticker.run"
        assert health(runtime) == SERVING and health(runtime, SERVICE) == SERVING
        assert dead_gauge(thread) == 0

        ticker.fail.set()
        assert eventually(lambda: health(runtime) == NOT_SERVING)
        assert health(runtime, SERVICE) == NOT_SERVING
        assert dead_gauge(thread) == 1
        assert runtime.dead_threads == [thread]
        runtime.grpc.set_serving(True)  # nothing brings it back but a restart
        assert health(runtime) == NOT_SERVING
    logged = capsys.readouterr().out
    assert thread in logged and "NOT_SERVING" in logged
    if failure == "raise":
        assert "RuntimeError: ticker bug" in logged


def test_a_consumer_thread_that_dies_turns_health_not_serving(settings, capsys):
    consumer = BrokenConsumer(settings.amqp_url)
    with runtime_with(settings, consumers=(consumer,)) as runtime:
        assert health(runtime) == SERVING
        consumer.fail.set()
        assert eventually(lambda: health(runtime) == NOT_SERVING)
        assert health(runtime, SERVICE) == NOT_SERVING
        assert dead_gauge("consumer:campaign.send") == 1
    assert "ValueError: handler setup bug" in capsys.readouterr().out


def test_a_thread_dead_before_the_server_starts_is_not_hidden_by_start(settings):
    def crashes(stopping: threading.Event) -> None:
        raise RuntimeError("dies at once")

    with runtime_with(settings, loops=(crashes,)) as runtime:
        assert eventually(lambda: health(runtime) == NOT_SERVING)
        time.sleep(0.2)
        assert health(runtime) == NOT_SERVING


def test_a_consumer_reconnecting_to_the_broker_is_not_dead(settings):
    """A consumer that cannot reach RabbitMQ retries with backoff inside its thread: the pod stays SERVING."""
    unreachable = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F?connection_attempts=1&socket_timeout=1"
    consumer = BatchConsumer(unreachable, "campaign.send", lambda batch: None)
    working = BatchConsumer(settings.amqp_url, "campaign.send", lambda batch: None)
    with runtime_with(settings, consumers=(consumer, working)) as runtime:
        assert eventually(working.ready.is_set)
        time.sleep(1.5)  # a few failed connection attempts
        assert health(runtime) == SERVING and health(runtime, SERVICE) == SERVING
        assert runtime.dead_threads == []


def test_a_clean_stop_is_not_a_death(settings, capsys):
    ticker = Ticker("raise")
    consumer = BatchConsumer(settings.amqp_url, "campaign.send", lambda batch: None)
    with runtime_with(settings, loops=(ticker.run,), consumers=(consumer,)) as runtime:
        assert eventually(consumer.ready.is_set)
    assert runtime.dead_threads == []
    assert "worker thread" not in capsys.readouterr().out

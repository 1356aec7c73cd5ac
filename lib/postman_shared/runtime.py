"""The life of a service process: what it starts, and how it stops on SIGINT/SIGTERM.

A service's bootstrap (its composition root) builds a ``ServiceRuntime``, attaches its gRPC servicers, queue
consumers and background loops, then calls ``run``. Stopping drains in order: health goes NOT_SERVING, consumers
finish their current batch and ack it, the gRPC server gets a grace period, then connections close.

Consumers and loops run on worker threads that end only when the service stops (a consumer that loses the broker
reconnects inside its own thread). One that ends before, by an exception or by returning, would leave a process
that answers its probes but no longer does that work: the runtime then reports NOT_SERVING for good (readiness
and liveness fail, and the kubelet restarts the pod), logs an error naming the thread, and sets
``postman_worker_threads_dead``.
"""

from __future__ import annotations

import contextvars
import functools
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import structlog
from prometheus_client import Gauge

from postman_shared import tracing
from postman_shared.broker.consumer import BatchConsumer
from postman_shared.broker.publisher import Publisher
from postman_shared.db import Database
from postman_shared.grpc import client
from postman_shared.grpc.identity import ServiceIdentity, load_identity
from postman_shared.grpc.server import GrpcServer, bind_address, wait_for_termination_signal
from postman_shared.logging import configure_logging
from postman_shared.metrics import health_port, start_metrics_server
from postman_shared.settings import Settings
from postman_shared.startup_checks import check_startup

# Stopping (SIGTERM): consumers finish and ack their current batch, loops end, all within STOP_THREADS_SECONDS (one
# budget, longer than SMTP_TIMEOUT: a batch stuck on a slow provider call still ends); then gRPC calls in flight get
# GRPC_GRACE_SECONDS. A pod's terminationGracePeriodSeconds must exceed their sum (tests/deploy/test_resilience.py),
# or the kubelet kills a sender in the middle of a batch that it has sent but not yet recorded.
STOP_THREADS_SECONDS = 30.0
GRPC_GRACE_SECONDS = 10.0

WORKERS_DEAD = Gauge("postman_worker_threads_dead",
                     "1 for a worker thread (queue consumer, background loop) that ended before the service stopped; "
                     "the process reports NOT_SERVING until it restarts", ["service", "thread"])


def _loop_name(loop: Callable[..., object]) -> str:
    """What a loop is called in logs and metrics: its module and name (``outbox.OutboxRelay.run_periodically``)."""
    function = loop.func if isinstance(loop, functools.partial) else loop
    module = getattr(function, "__module__", "") or ""
    name = getattr(function, "__qualname__", type(function).__qualname__)
    return f"{module.rsplit('.', 1)[-1]}.{name}" if module else name


class ContextPool(ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the submitting thread's context: a task logs the service, request,
    campaign and job of the work that submitted it (and continues its trace), and what a task binds ends with it,
    never leaking into the next task of that worker thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


class ServiceRuntime:
    """``serves_metrics=False``: the service serves ``/metrics`` itself (the gateway, from its own registry).
    ``stopping_call_grace``: how long calls to other services may still take once stopping began (the gateway lets
    requests in progress finish, so it gives them its request grace)."""

    def __init__(self, name: str, settings: Settings, *, serves_metrics: bool = True,
                 stopping_call_grace: float = client.STOPPING_CALL_GRACE_SECONDS) -> None:
        self.name = name
        self.settings = settings
        self.serves_metrics = serves_metrics
        self.stopping_call_grace = stopping_call_grace
        self.log = configure_logging(name, settings.log_level, settings.log_format)
        tracing.configure_tracing(settings)  # off unless OTEL_EXPORTER_OTLP_ENDPOINT is set
        check_startup(settings, name)  # no default secret or reachable outbox outside local development
        # The certificate this service calls and serves with (GRPC_TLS_DIR/<name>/); the threads the runtime starts
        # carry it, so that several services in one process (the in-process tests) each call as themselves.
        self.identity: ServiceIdentity = load_identity(settings, name)
        self._database: Database | None = None
        self._publisher: Publisher | None = None
        self.grpc: GrpcServer | None = None
        self._consumers: list[BatchConsumer] = []
        self._loops: list[Callable[[threading.Event], None]] = []
        self._startup: list[Callable[[], object]] = []
        self._shutdown: list[Callable[[], object]] = []
        self._threads: list[threading.Thread] = []
        self.dead_threads: list[str] = []  # worker threads that ended before the service stopped
        self._dead_lock = threading.Lock()
        self.stopping = threading.Event()

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = Database(self.settings.database_url)
        return self._database

    @property
    def publisher(self) -> Publisher:
        if self._publisher is None:
            self._publisher = Publisher(self.settings.amqp_url, app_id=self.name)
        return self._publisher

    def serve_grpc(self, own_addr: str, registrations: list[tuple[Callable[[Any, Any], None], Any]],
                   service_names: list[str]) -> GrpcServer:
        bind = bind_address(self.settings.grpc_bind_host, self.settings.grpc_port, own_addr)
        probes = health_port(self.name, self.settings.health_port)
        health_bind = f"{self.settings.metrics_bind_host}:{probes}" if probes else ""
        self.grpc = GrpcServer(bind, service_names, self.identity, health_bind=health_bind)
        for register, servicer in registrations:
            self.grpc.add(register, servicer)
        return self.grpc

    def thread_pool(self, max_workers: int, name: str) -> ThreadPoolExecutor:
        """A pool of worker threads that call other services as this one (its threads carry the identity), each task
        in its submitter's log and trace context (``ContextPool``)."""
        return ContextPool(max_workers=max_workers, thread_name_prefix=name,
                           initializer=client.set_thread_identity, initargs=(self.identity,))

    def add_consumer(self, consumer: BatchConsumer) -> None:
        self._consumers.append(consumer)

    def add_loop(self, loop: Callable[[threading.Event], None]) -> None:
        """A background loop that runs until the event it is given is set."""
        self._loops.append(loop)

    def on_start(self, step: Callable[[], object]) -> None:
        """Work done once, synchronously, before the service takes calls (e.g. resuming interrupted work)."""
        self._startup.append(step)

    def on_stop(self, step: Callable[[], object]) -> None:
        """Work done once when stopping, after the gRPC server has finished its calls (e.g. closing connections
        its servicers use)."""
        self._shutdown.append(step)

    def start(self) -> None:
        client.allow_calls(self.identity)  # calls to other services allowed (again, for a runtime started anew)
        metrics_port = (start_metrics_server(self.name, self.settings.metrics_port, self.settings.metrics_bind_host)
                        if self.serves_metrics else None)
        with client.acting_as(self.identity):
            for step in self._startup:
                step()
        for consumer in self._consumers:
            self._spawn(consumer.run, f"consumer:{consumer.queue}")
        for loop in self._loops:
            self._spawn(functools.partial(loop, self.stopping), f"loop:{_loop_name(loop)}")
        if self.grpc is not None:
            self.grpc.start()  # SERVING, unless a worker has already died (``set_broken`` holds)
        self.log.info("started", grpc_port=self.grpc.port if self.grpc else None, metrics_port=metrics_port,
                      health_port=self.grpc.health_port if self.grpc else None,
                      grpc_tls=not self.identity.plaintext)

    def stop(self) -> None:
        self.stopping.set()
        # A call still waiting on another service (itself stopping, as a whole release restarts) is cancelled after
        # a few seconds: its batch goes back on the queue rather than holding the stop for the call's deadline.
        client.begin_stopping(self.identity, grace=self.stopping_call_grace)
        if self.grpc is not None:
            self.grpc.set_serving(False)
        for consumer in self._consumers:
            consumer.stop()
        deadline = time.monotonic() + STOP_THREADS_SECONDS  # one budget for all: a pod's grace period is finite
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._report_unstopped()
        if self.grpc is not None:
            self.grpc.stop(grace=GRPC_GRACE_SECONDS)
        for step in self._shutdown:
            step()
        if self._publisher is not None:
            self._publisher.close()
        if self._database is not None:
            self._database.dispose()
        tracing.flush()
        client.allow_calls(self.identity)  # stopped: nothing of it is left waiting (the process exits now)
        self.log.info("stopped")

    @property
    def serving(self) -> bool:
        """What the service's probes say: serving from ``start`` until stopping begins, and never again once a
        worker thread died (the gRPC health service says the same for a gRPC service; the gateway's ``/v1/ping``)."""
        return not self.stopping.is_set() and not self.dead_threads

    def _report_unstopped(self) -> None:
        """Logs each worker thread still running when the stop budget is spent, with where it is stuck: what an SRE
        needs when a pod is killed at the end of its grace period."""
        frames = sys._current_frames()
        for thread in self._threads:
            if thread.is_alive():
                frame = frames.get(thread.ident or -1)
                where = "".join(traceback.format_stack(frame)[-8:]) if frame is not None else "(no frame)"
                self.log.error("worker thread did not stop in time", thread=thread.name,
                               budget_seconds=STOP_THREADS_SECONDS, stack=where)

    def run(self) -> None:
        """Starts everything and blocks until SIGINT or SIGTERM, then stops cleanly."""
        client.use_identity(self.identity)  # this process is this service: every thread calls as it
        self.start()
        wait_for_termination_signal()
        self.stop()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        WORKERS_DEAD.labels(self.name, name).set(0)

        def guarded() -> None:
            client.set_thread_identity(self.identity)
            structlog.contextvars.bind_contextvars(service=self.name)  # a new thread starts with an empty context
            try:
                target()
            except BaseException as exc:  # noqa: BLE001 - whatever ends the thread, the process must say so
                self._worker_died(name, exc)
                return
            if not self.stopping.is_set():
                self._worker_died(name, None)

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _worker_died(self, name: str, error: BaseException | None) -> None:
        """A worker thread raised, or returned before the service stopped: NOT_SERVING until a restart, an error log
        and a metric."""
        with self._dead_lock:
            self.dead_threads.append(name)
            WORKERS_DEAD.labels(self.name, name).set(1)
            if self.grpc is not None:
                self.grpc.set_broken()
        if error is None:
            self.log.error("worker thread died", thread=name, health="NOT_SERVING",
                           error="it returned before the service stopped")
        else:
            self.log.error("worker thread died", thread=name, health="NOT_SERVING",
                           error=f"{type(error).__name__}: {error}", exc_info=error)

"""The whole system as separate processes, the way `make run` starts it, on isolated stores and free ports.

Used by the end-to-end test and the benchmark. Each service's output goes to its own log file, whose tail is
printed if the system fails to come up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support import service_identity
from tests.support.stores import Stores, free_port

SERVICES = {
    "auth": "postman_auth",
    "campaign": "postman_campaign",
    "renderer": "postman_renderer",
    "sender-email": "postman_sender_email",
    "sender-sms": "postman_sender_sms",
    "sender-telegram": "postman_sender_telegram",
    "stats": "postman_stats",
    "gateway": "postman_gateway",
}
GRPC_SERVICES = {"auth": "AUTH_ADDR", "campaign": "CAMPAIGN_ADDR", "renderer": "RENDERER_ADDR", "stats": "STATS_ADDR",
                 "sender-sms": "SMS_SENDER_ADDR", "sender-telegram": "TELEGRAM_SENDER_ADDR",
                 "sender-email": "EMAIL_SENDER_ADDR"}


@dataclass
class RunningSystem:
    gateway_url: str
    env: dict[str, str]
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def logs(self, service: str, tail: int = 40) -> str:
        lines = (self.log_dir / f"{service}.log").read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail:])

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.processes.items()}


def system_env(stores: Stores, work_dir: Path, **overrides: str) -> dict[str, str]:
    gateway_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "EMAIL_", "PUBLIC_URL"))}
    env.update(
        DATABASE_URL=stores.database_url,
        AMQP_URL=stores.amqp_url,
        GATEWAY_PORT=str(gateway_port),
        PUBLIC_URL=f"http://127.0.0.1:{gateway_port}",
        UPLOAD_DIR=str(work_dir / "uploads"),
        OUTBOX_DIR=str(work_dir / "outbox"),
        METRICS_PORT="0",
        HEALTH_PORT="0",
        GRPC_TLS_DIR=str(service_identity.certificate_dir()),  # mutual TLS, as make run
        LOG_LEVEL="INFO",
        UNSUBSCRIBE_KEYS="test1:test-only-unsubscribe-key",
        PYTHONUNBUFFERED="1",
    )
    for variable in GRPC_SERVICES.values():
        env[variable] = f"127.0.0.1:{free_port()}"
    env.update(overrides)
    return env


def start_system(stores: Stores, work_dir: Path, timeout: float = 60.0, **overrides: str) -> RunningSystem:
    env = system_env(stores, work_dir, **overrides)
    log_dir = work_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    system = RunningSystem(f"http://127.0.0.1:{env['GATEWAY_PORT']}", env, log_dir)
    for name in SERVICES:
        start_service(system, name)
    try:
        _wait_until_ready(system, timeout)
    except Exception:
        stop_system(system)
        raise
    return system


def start_services(stores: Stores, work_dir: Path, names: list[str], timeout: float = 60.0,
                   **overrides: str) -> RunningSystem:
    """Only the named services (a benchmark measuring one stage alone); waits for those that answer health checks."""
    env = system_env(stores, work_dir, **overrides)
    log_dir = work_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    system = RunningSystem(f"http://127.0.0.1:{env['GATEWAY_PORT']}", env, log_dir)
    for name in names:
        start_service(system, name)
    try:
        _wait_until_ready(system, timeout, {n for n in names if n in GRPC_SERVICES or n == "gateway"})
    except Exception:
        stop_system(system)
        raise
    return system


def start_service(system: RunningSystem, name: str, replica: str = "") -> None:
    """Starts (or restarts, after it died) one service of a running system; a ``replica`` name (e.g. "2") starts
    another process of the same service, known (and logged) as ``<name>-<replica>``."""
    key = f"{name}-{replica}" if replica else name
    log = (system.log_dir / f"{key}.log").open("ab")
    system.processes[key] = subprocess.Popen(
        [sys.executable, "-m", SERVICES[name]], env=system.env, stdout=log, stderr=subprocess.STDOUT
    )


def _wait_until_ready(system: RunningSystem, timeout: float, pending: set[str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    pending = set(GRPC_SERVICES) | {"gateway"} if pending is None else set(pending)
    while pending and time.monotonic() < deadline:
        for name, process in system.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{system.logs(name)}")
        for name in list(pending):
            if name == "gateway":
                try:
                    if requests.get(f"{system.gateway_url}/v1/ping", timeout=1).status_code == 200:
                        pending.discard(name)
                except requests.RequestException:
                    pass
            elif _grpc_serving(system.env[GRPC_SERVICES[name]]):
                pending.discard(name)
        time.sleep(0.2)
    if pending:
        raise RuntimeError(
            f"not ready after {timeout}s: {sorted(pending)}\n"
            + "\n".join(f"--- {n}\n{system.logs(n)}" for n in sorted(pending))
        )


def _grpc_serving(address: str) -> bool:
    gateway = service_identity.identity("gateway")  # health answers any service of the installation
    with grpc.secure_channel(address, gateway.channel_credentials()) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def stop_system(system: RunningSystem, timeout: float = 30.0) -> dict[str, int | None]:
    """SIGTERM to every service, then wait; returns each exit code (None if it had to be killed)."""
    for process in system.processes.values():
        if process.poll() is None:
            process.terminate()
    codes: dict[str, int | None] = {}
    deadline = time.monotonic() + timeout
    for name, process in system.processes.items():
        try:
            codes[name] = process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            codes[name] = None
    return codes


def assert_stopped_cleanly(system: RunningSystem, codes: dict[str, int | None]) -> None:
    """Every service exited 0 on SIGTERM; otherwise fails naming them, with the end of each one's log (where the
    runtime says which worker thread did not stop, and where it was stuck)."""
    unclean = {name: code for name, code in codes.items() if code != 0}
    assert not unclean, f"services did not stop cleanly on SIGTERM: {unclean}\n" + "\n".join(
        f"--- {name}\n{system.logs(name, tail=60)}" for name in unclean)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0

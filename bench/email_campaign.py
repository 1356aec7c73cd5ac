"""Benchmark: a 100,000-recipient email campaign through every service, as separate processes, to a local SMTP
sink (postfix's smtp-sink), next to a bare smtplib loop to the same sink measured in the same run; then the same
campaign again with a share of its recipients on the suppression list (``--suppressed-share``, 10% by default), in
the same system, so the cost of screening is read off the same run.

    make bench            # or: .venv/bin/python bench/email_campaign.py --recipients 100000

Prints upload processing (rows/s), end-to-end delivery from send to LOGGED (messages/s) of each campaign, the CPU
seconds per message of every process involved (each service, PostgreSQL, RabbitMQ, the sink) over the send, each
service's peak memory, the bare smtplib rate and the ratios; writes the same as Markdown to
bench/out/email_campaign.md and every figure as JSON to bench/out/email_campaign.json (``--name`` to use another
name; ``make bench-check`` compares such a JSON with bench/baseline.json, see bench/check.py).

Costs are read against calibrations measured in the same run, because they hold from one machine to another where
rates do not: the pipeline's CPU per message against the bare smtplib loop's (its client thread plus the sink; the
issue's headline, which moves with other activity on the machine), and the pipeline's CPU per message and the
upload's CPU per row (every process, PUT and processing) against a bare csv.reader loop's CPU per row over the same
file (steady; what bench/check.py guards).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import run_facts, write_results  # noqa: E402
from postman.v1 import suppression_pb2, suppression_pb2_grpc  # noqa: E402
from postman_auth import agencies, api_keys  # noqa: E402
from postman_shared.db import Database  # noqa: E402
from tests.support import service_identity  # noqa: E402
from tests.support.api_client import PostmanApi  # noqa: E402
from tests.support.processes import RunningSystem, peak_rss_mb, start_system, stop_system  # noqa: E402
from tests.support.stores import AMQP_SERVER, PG_SERVER, create_stores, drop_stores, free_port  # noqa: E402

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Processes of the stores and the sink whose CPU counts too, by their command name.
OTHER_PROCESSES = {"postgres": "PostgreSQL", "beam.smp": "RabbitMQ", "smtp-sink": "smtp-sink"}
TEMPLATE_SUBJECT = "Your appointment, {{ name }}"
TEMPLATE_BODY = (
    "<p>Dear {{ name }},</p><p>Your appointment is on <b>{{ appointment }}</b> at {{ clinic }}.</p>"
    "<p>Reference: {{ ref }}</p><p>Please bring your identity card.</p>"
)


def address(i: int) -> str:
    return f"user{i}@example.gov.sg"


def recipients_csv(count: int) -> bytes:
    lines = ["recipient,name,appointment,clinic,ref"]
    lines += [
        f"{address(i)},Resident {i},2026-12-{1 + i % 28:02d} 10:{i % 60:02d},Clinic {i % 17},REF{i:08d}"
        for i in range(count)
    ]
    return ("\n".join(lines) + "\n").encode()


def start_sink() -> tuple[subprocess.Popen[bytes], int]:
    if not Path(SMTP_SINK).exists():
        sys.exit("smtp-sink not found: install postfix (apt-get install postfix) to run the benchmark")
    port = free_port()
    sink = subprocess.Popen([SMTP_SINK, "-u", "nobody", f"127.0.0.1:{port}", "1000"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=1).quit()
            return sink, port
        except OSError:
            time.sleep(0.1)
    sink.kill()
    sys.exit("smtp-sink did not start")


@dataclass
class BareLoop:
    """The bare smtplib loop: its rate and its CPU (the sending thread's, measured with time.thread_time, and the
    sink's, from /proc) over the loop; and the whole machine's (/proc/stat, softirq and any noise included), for
    information."""
    messages: int
    seconds: float
    client_cpu: float
    sink_cpu: float
    machine_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_per_message(self) -> float:
        return (self.client_cpu + self.sink_cpu) / self.messages


def bare_smtplib_rate(port: int, count: int) -> float:
    """The ceiling: one reused smtplib connection sending prebuilt messages to the same sink."""
    return bare_smtplib_loop(port, count).rate


def bare_smtplib_loop(port: int, count: int, sink_pid: int | None = None) -> BareLoop:
    """bare_smtplib_rate's loop, with its CPU: the calling thread's and, given its pid, the sink's."""
    body = (TEMPLATE_BODY.replace("{{ name }}", "Resident 1") * 1).encode()
    message = (b"From: Postman <donotreply@mail.postman.gov.sg>\r\nTo: user1@example.gov.sg\r\n"
               b"Subject: Your appointment\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
               + body)
    connection = smtplib.SMTP("127.0.0.1", port)
    sink_before = cpu_seconds(sink_pid) if sink_pid else 0.0
    machine_before = machine_cpu_seconds()
    cpu_started = time.thread_time()
    started = time.perf_counter()
    for _ in range(count):
        connection.sendmail("donotreply@mail.postman.gov.sg", ["user1@example.gov.sg"], message)
    elapsed = time.perf_counter() - started
    client_cpu = time.thread_time() - cpu_started
    sink_cpu = cpu_seconds(sink_pid) - sink_before if sink_pid else 0.0
    machine_cpu = machine_cpu_seconds() - machine_before
    connection.quit()
    return BareLoop(count, elapsed, client_cpu, sink_cpu, machine_cpu)


def bare_csv_cpu_per_row(content: bytes, repeat: int = 5) -> float:
    """CPU seconds per row of a bare csv.reader loop over the file (the least any upload must do with it), in this
    thread; the least of ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        started = time.thread_time()
        rows = sum(1 for _ in csv.reader(io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline="")))
        best = min(best, time.thread_time() - started)
    return best / max(1, rows - 1)


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # the process ended
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def backend_database(title: str) -> str | None:
    """The database a PostgreSQL backend serves, from its process title ("postgres: <cluster>: <user> <database>
    <client> <state>"); None for the postmaster and the shared background processes (checkpointer, WAL writer, ...)."""
    words = title.split(": ", 2)[-1].split() if title.startswith("postgres: ") else []
    is_backend = len(words) >= 3 and ("(" in words[2] or words[2] == "[local]")
    return words[1] if is_backend else None


def other_database(pid: int, database: str) -> bool:
    """Whether the PostgreSQL process ``pid`` is a backend of another database than ``database`` (another run's)."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return False
    served = backend_database(title)
    return served is not None and served != database


def listening_pid(port: int) -> int | None:
    """The process listening on this local TCP port (from /proc/net/tcp and tcp6 and the processes' sockets)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                    return int(entry.name)
            except OSError:
                continue
    return None


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _store_ports() -> dict[str, int]:
    """The ports of the stores this run uses (the test support's servers), by command name."""
    return {"beam.smp": urlsplit(AMQP_SERVER).port or 5672, "postgres": urlsplit(PG_SERVER).port or 5432}


def processes_named(names: dict[str, str], database: str | None = None) -> dict[int, str]:
    """The processes with these command names (pid -> kind); given ``database``, PostgreSQL backends of other
    databases (other people's tests on a shared server) are left out. Where another RabbitMQ node or PostgreSQL
    cluster runs on the machine (make chaos's, say), only the one serving this run counts: the RabbitMQ node that
    listens on the run's AMQP port, the PostgreSQL server on its port and that server's children."""
    serving = {command: listening_pid(port) for command, port in _store_ports().items() if command in names}
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if command in names:
                pid = int(entry.name)
                if command == "postgres" and database and other_database(pid, database):
                    continue
                server = serving.get(command)
                if server is not None and pid != server and _parent(pid) != server:
                    continue
                found[pid] = names[command]
    return found


def cpu_snapshot(system: RunningSystem, database: str | None = None, sink_pid: int | None = None) -> dict[str, float]:
    """CPU seconds used so far by each service process and, summed by kind, by PostgreSQL's processes (backends
    of other databases than ``database`` left out) and RabbitMQ's and the sink (only ``sink_pid``, when given, not
    another run's), and by the whole machine (/proc/stat, every process: the benchmark driver and any noise
    included)."""
    snapshot = {name: cpu_seconds(pid) for name, pid in system.pids().items()}
    for pid, kind in processes_named(OTHER_PROCESSES, database).items():
        if kind == "smtp-sink" and sink_pid is not None and pid != sink_pid:
            continue
        snapshot[kind] = snapshot.get(kind, 0.0) + cpu_seconds(pid)
    snapshot["machine"] = machine_cpu_seconds()
    return snapshot


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine has been busy (/proc/stat: every process, interrupts and softirqs)."""
    busy = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system_time, _idle, _iowait, irq, softirq, steal = (int(v) for v in busy[:8])
    return (user + nice + system_time + irq + softirq + steal) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    """The process's resident memory now (VmRSS) in MB; 0 once it has ended."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class BrokerMemory:
    """RabbitMQ's resident memory (beam.smp) sampled every second while a stage runs: where it started and its
    peak. With the render window it must stay flat however large the campaign (issue 15: under 300 MB)."""

    def __init__(self) -> None:
        self._pids = list(processes_named({"beam.smp": "RabbitMQ"}))
        self.start = self.peak = self._now()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _now(self) -> float:
        return sum(rss_mb(pid) for pid in self._pids)

    def _sample(self) -> None:
        while not self._done.wait(1.0):
            self.peak = max(self.peak, self._now())

    def __enter__(self) -> "BrokerMemory":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self._now())


@dataclass
class Delivery:
    label: str
    messages: int  # messages handed to the sink
    suppressed: int
    seconds: float
    cpu: dict[str, float]  # CPU seconds over the send, per process (kind)
    broker_mb: tuple[float, float] = (0.0, 0.0)  # RabbitMQ's resident memory at the send and its peak during it

    @property
    def rate(self) -> float:
        """Recipients through the pipeline per second (a suppressed one is screened, recorded and counted too)."""
        return (self.messages + self.suppressed) / self.seconds

    def cpu_per_message(self, name: str) -> float:
        return self.cpu[name] / (self.messages + self.suppressed)

    @property
    def pipeline_cpu_per_message(self) -> float:
        """CPU seconds per recipient of every process involved: services, stores and sink (not the driver)."""
        return sum(seconds for name, seconds in self.cpu.items() if name != "machine") / (
            self.messages + self.suppressed)


@dataclass
class UploadCost:
    rows: int
    put_seconds: float  # upload/start, the PUT and upload/complete
    processing_seconds: float  # upload/complete's end until upload/status says done
    cpu: dict[str, float]  # CPU seconds over the whole upload (PUT and processing), per process (kind)
    bare_csv_cpu_per_row: float
    broker_mb: tuple[float, float] = (0.0, 0.0)  # RabbitMQ's resident memory at the start and its peak

    @property
    def rate(self) -> float:
        return self.rows / self.processing_seconds

    @property
    def cpu_per_row(self) -> float:
        return sum(seconds for name, seconds in self.cpu.items() if name != "machine") / self.rows


def suppress(system: RunningSystem, count: int, every: int) -> int:
    """Puts every ``every``-th address of the recipient file on the global suppression list (support's
    AddSuppressions, as ``postmanctl suppression import`` does); returns how many."""
    stub = service_identity.stub(system.env["CAMPAIGN_ADDR"], suppression_pb2_grpc.SuppressionServiceStub)
    addresses = [address(i) for i in range(0, count, every)]
    for start in range(0, len(addresses), 1000):
        entries = [suppression_pb2.Suppression(channel="EMAIL", recipient=a, user_id=0, reason="manual",
                                               detail="benchmark", created_by="support")
                   for a in addresses[start:start + 1000]]
        stub.AddSuppressions(suppression_pb2.AddSuppressionsRequest(entries=entries), timeout=60)
    return len(addresses)


def deliver(api: PostmanApi, system: RunningSystem, database: str, sink_pid: int, campaign_id: int, label: str,
            recipients: int, suppressed: int) -> Delivery:
    before = cpu_snapshot(system, database, sink_pid)
    send_started = time.perf_counter()
    with BrokerMemory() as broker:
        api.send(campaign_id)
        stats = api.wait_for_status(campaign_id, "LOGGED", timeout=7200, poll=0.25)
    elapsed = time.perf_counter() - send_started
    after = cpu_snapshot(system, database, sink_pid)
    blacklisted = stats.get("outcomes", {}).get("blacklisted", 0)
    if stats["sent"] != recipients - suppressed or blacklisted != suppressed:
        sys.exit(f"{label}: expected {recipients - suppressed:,} sent and {suppressed:,} blacklisted: {stats}")
    delivery = Delivery(label, recipients - suppressed, suppressed, elapsed,
                        {name: after[name] - before.get(name, 0.0) for name in after}, (broker.start, broker.peak))
    print(f"{label}: {recipients:,} recipients ({suppressed:,} suppressed), send -> LOGGED in {elapsed:.1f}s "
          f"= {delivery.rate:,.0f} recipients/s; RabbitMQ {broker.start:.0f} MB -> peak {broker.peak:.0f} MB",
          flush=True)
    return delivery


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--bare", type=int, default=20_000, help="messages in the bare smtplib loop")
    parser.add_argument("--smtp-connections", type=int, default=4)
    parser.add_argument("--log-level", default="INFO",
                        help="the services' LOG_LEVEL; INFO is what make run uses (issue 15's targets hold there)")
    parser.add_argument("--suppressed-share", type=float, default=0.1,
                        help="share of recipients suppressed in the second campaign; 0: run the plain one only")
    parser.add_argument("--name", default="email_campaign",
                        help="writes bench/out/<name>.md and bench/out/<name>.json")
    args = parser.parse_args()

    facts = run_facts()
    sink, sink_port = start_sink()
    stores = create_stores()
    database_name = stores.database_url.rsplit("/", 1)[1]
    work = Path(tempfile.mkdtemp(prefix="postman-bench-"))
    system = None
    try:
        bare = bare_smtplib_loop(sink_port, args.bare, sink.pid)
        print(f"bare smtplib loop to smtp-sink: {bare.rate:,.0f} msg/s, "
              f"{1000 * bare.cpu_per_message:.3f} CPU ms per message (client + sink)", flush=True)
        system = start_system(
            stores, work, EMAIL_TRANSPORT="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=str(sink_port),
            SMTP_CONNECTIONS=str(args.smtp_connections), LOG_LEVEL=args.log_level,
        )
        database = Database(stores.database_url, pool_size=1)
        with database.unit_of_work() as session:
            # The owner's agency has a logo and the template shows it: every message carries the whole theme.
            agencies.add(session, "Ministry of Benchmarks", "https://www.example.gov.sg/logo.png", ["agency.gov.sg"],
                         "bench")
            key = api_keys.create_api_key(session, api_keys.get_or_create_user(session, "bench@agency.gov.sg"),
                                          "bench")
        database.dispose()
        api = PostmanApi(system.gateway_url, key)
        content = recipients_csv(args.recipients)
        campaign_id = api.create_campaign("benchmark")
        api.set_template(campaign_id, TEMPLATE_SUBJECT, TEMPLATE_BODY)

        before = cpu_snapshot(system, database_name, sink.pid)
        started = time.perf_counter()
        with BrokerMemory() as upload_broker:
            api.upload(campaign_id, content, "bench.csv")
            completed = time.perf_counter()
            status = api.wait_for_upload(campaign_id, timeout=1800)
            processed = time.perf_counter()
        after = cpu_snapshot(system, database_name, sink.pid)
        if status.get("csv_error") or status.get("num_recipients") != args.recipients:
            sys.exit(f"upload failed: {status}")
        upload = UploadCost(args.recipients, completed - started, processed - completed,
                            {name: after[name] - before.get(name, 0.0) for name in after},
                            bare_csv_cpu_per_row(content), (upload_broker.start, upload_broker.peak))
        print(f"upload: PUT {upload.put_seconds:.2f}s, processing {upload.processing_seconds:.2f}s "
              f"= {upload.rate:,.0f} rows/s; {1000 * upload.cpu_per_row:.4f} CPU ms per row = "
              f"{upload.cpu_per_row / upload.bare_csv_cpu_per_row:.1f} x a bare csv.reader loop's", flush=True)

        deliveries = [deliver(api, system, database_name, sink.pid, campaign_id, "plain", args.recipients, 0)]
        if args.suppressed_share > 0:
            every = max(1, round(1 / args.suppressed_share))
            suppressed = suppress(system, args.recipients, every)
            second = api.create_campaign("benchmark, suppressed share")
            api.set_template(second, TEMPLATE_SUBJECT, TEMPLATE_BODY)
            api.upload(second, content, "bench.csv")
            status = api.wait_for_upload(second, timeout=1800)
            if status.get("csv_error") or status.get("num_recipients") != args.recipients:
                sys.exit(f"upload failed: {status}")
            deliveries.append(deliver(api, system, database_name, sink.pid, second,
                                      f"{suppressed / args.recipients:.0%} suppressed", args.recipients, suppressed))
        memory = {name: peak_rss_mb(pid) for name, pid in system.pids().items()}
        report(args, facts, bare, upload, deliveries, memory)
    finally:
        if system is not None:
            stop_system(system)
        drop_stores(stores)
        sink.terminate()
        shutil.rmtree(work, ignore_errors=True)


def ms(seconds: dict[str, float], per: int) -> dict[str, float]:
    return {name: round(1000 * value / per, 5) for name, value in seconds.items()}


def figures(args: argparse.Namespace, bare: BareLoop, upload: UploadCost, deliveries: list[Delivery],
            memory: dict[str, float]) -> dict[str, Any]:
    """Every figure of the run, for bench/out/<name>.json (bench/check.py reads ``deliveries[label=plain]
    .cpu_vs_bare_loop`` and ``upload.cpu_per_row_vs_bare_csv``)."""
    return {
        "benchmark": "email_campaign",
        "parameters": {"recipients": args.recipients, "bare": args.bare, "smtp_connections": args.smtp_connections,
                       "suppressed_share": args.suppressed_share, "log_level": args.log_level},
        "bare_smtplib": {
            "messages": bare.messages, "seconds": round(bare.seconds, 3), "messages_per_second": round(bare.rate, 1),
            "cpu_ms_per_message": round(1000 * bare.cpu_per_message, 5),
            "cpu_ms_per_message_by_process": ms({"client": bare.client_cpu, "smtp-sink": bare.sink_cpu},
                                                bare.messages),
            "machine_cpu_ms_per_message": round(1000 * bare.machine_cpu / bare.messages, 5),
        },
        "upload": {
            "rows": upload.rows, "put_seconds": round(upload.put_seconds, 3),
            "processing_seconds": round(upload.processing_seconds, 3), "rows_per_second": round(upload.rate, 1),
            "cpu_ms_per_row": round(1000 * upload.cpu_per_row, 6),
            "cpu_ms_per_row_by_process": ms(upload.cpu, upload.rows),
            "bare_csv_cpu_ms_per_row": round(1000 * upload.bare_csv_cpu_per_row, 6),
            "cpu_per_row_vs_bare_csv": round(upload.cpu_per_row / upload.bare_csv_cpu_per_row, 3),
            "rabbitmq_rss_mb": {"start": round(upload.broker_mb[0], 1), "peak": round(upload.broker_mb[1], 1)},
        },
        "deliveries": [{
            "label": d.label, "recipients": d.messages + d.suppressed, "suppressed": d.suppressed,
            "seconds": round(d.seconds, 3), "recipients_per_second": round(d.rate, 1),
            "messages_per_second": round(d.messages / d.seconds, 1), "rate_vs_bare_loop": round(d.rate / bare.rate, 3),
            "cpu_ms_per_recipient": round(1000 * d.pipeline_cpu_per_message, 5),
            "cpu_ms_per_recipient_by_process": ms(d.cpu, d.messages + d.suppressed),
            "cpu_vs_bare_loop": round(d.pipeline_cpu_per_message / bare.cpu_per_message, 3),
            "cpu_vs_bare_csv_row": round(d.pipeline_cpu_per_message / upload.bare_csv_cpu_per_row, 1),
            "machine_cpu_vs_bare_loop_machine": round(d.cpu_per_message("machine") * bare.messages
                                                      / max(bare.machine_cpu, 1 / CLOCK_TICKS), 3),
            "rabbitmq_rss_mb": {"start": round(d.broker_mb[0], 1), "peak": round(d.broker_mb[1], 1)},
        } for d in deliveries],
        "peak_rss_mb": {name: round(mb, 1) for name, mb in memory.items()},
    }


def report(args: argparse.Namespace, facts: dict[str, Any], bare: BareLoop, upload: UploadCost,
           deliveries: list[Delivery], memory: dict[str, float]) -> None:
    lines = [
        "| measure | " + " | ".join(d.label for d in deliveries) + " |",
        "| --- |" + " ---: |" * len(deliveries),
        "| recipients | " + " | ".join(f"{d.messages + d.suppressed:,}" for d in deliveries) + " |",
        "| suppressed (recorded BLACKLISTED, never handed to the sink) | "
        + " | ".join(f"{d.suppressed:,}" for d in deliveries) + " |",
        "| end-to-end, send -> LOGGED | " + " | ".join(f"{d.seconds:.1f} s" for d in deliveries) + " |",
        "| recipients per second | " + " | ".join(f"**{d.rate:,.0f}**" for d in deliveries) + " |",
        "| messages to the sink per second | " + " | ".join(f"{d.messages / d.seconds:,.0f}" for d in deliveries)
        + " |",
        "| recipients per second / bare smtplib | " + " | ".join(f"{d.rate / bare.rate:.2f}" for d in deliveries)
        + " |",
        "| **CPU per recipient / bare smtplib's CPU per message** (services + stores + sink / client + sink) | "
        + " | ".join(f"**{d.pipeline_cpu_per_message / bare.cpu_per_message:.2f}**" for d in deliveries) + " |",
        "| CPU per recipient / bare csv.reader loop's CPU per row (guarded by make bench-check) | "
        + " | ".join(f"{d.pipeline_cpu_per_message / upload.bare_csv_cpu_per_row:,.0f}" for d in deliveries) + " |",
        "| whole machine's CPU per recipient / per message of the bare loop (noise included) | "
        + " | ".join(f"{d.cpu_per_message('machine') * bare.messages / max(bare.machine_cpu, 1 / CLOCK_TICKS):.2f}"
                     for d in deliveries) + " |",
    ]
    names = [name for name in deliveries[0].cpu if name != "machine"] + ["machine"]
    lines += [f"| CPU ms per recipient: {name} | "
              + " | ".join(f"{1000 * d.cpu_per_message(name):.3f}" for d in deliveries) + " |" for name in names]
    lines.append("| CPU ms per recipient: services + stores + sink | " + " | ".join(
        f"{1000 * d.pipeline_cpu_per_message:.3f}" for d in deliveries) + " |")
    lines.append("| RabbitMQ resident memory: at the send -> peak (MB) | " + " | ".join(
        f"{d.broker_mb[0]:.0f} -> {d.broker_mb[1]:.0f}" for d in deliveries) + " |")
    upload_names = [name for name in upload.cpu if name != "machine"]
    text = "\n".join([
        f"Run {facts['date']}, commit {facts['commit']}, services at LOG_LEVEL={args.log_level}, "
        f"{facts['machine']['cores']} cores, "
        f"Python {facts['machine']['python']}.", "",
        f"Bare smtplib loop, one connection, same sink: **{bare.rate:,.0f} msg/s**, "
        f"{1000 * bare.cpu_per_message:.3f} CPU ms per message (client {1000 * bare.client_cpu / bare.messages:.3f}"
        f" + sink {1000 * bare.sink_cpu / bare.messages:.3f}; the whole machine during the loop: "
        f"{1000 * bare.machine_cpu / bare.messages:.3f}); {args.smtp_connections} SMTP connections.", "",
        f"Upload processing (read, validate, store): {upload.processing_seconds:.2f} s = **{upload.rate:,.0f} rows/s**"
        f" (PUT {upload.put_seconds:.2f} s); CPU over the whole upload {1000 * upload.cpu_per_row:.4f} ms per row = "
        f"**{upload.cpu_per_row / upload.bare_csv_cpu_per_row:.1f} x** a bare csv.reader loop's over the same file "
        f"({1000 * upload.bare_csv_cpu_per_row:.4f} ms per row); by process (ms per row): "
        + ", ".join(f"{name} {1000 * upload.cpu[name] / upload.rows:.4f}" for name in upload_names)
        + f"; RabbitMQ {upload.broker_mb[0]:.0f} MB -> peak {upload.broker_mb[1]:.0f} MB.",
        "", *lines, "",
        "| peak RSS | " + " | ".join(memory) + " |", "| --- |" + " ---: |" * len(memory),
        "| MB | " + " | ".join(f"{mb:.0f}" for mb in memory.values()) + " |"])
    print("\n" + text)
    path = write_results(args.name, facts, figures(args, bare, upload, deliveries, memory), text)
    print(f"\nwrote {path.with_suffix('.md').relative_to(ROOT)} and {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

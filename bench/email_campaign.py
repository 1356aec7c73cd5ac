"""Benchmark: a 100,000-recipient email campaign through every service, as separate processes, to a local SMTP
sink (postfix's smtp-sink), next to a bare smtplib loop to the same sink measured in the same run; then the same
campaign again with a share of its recipients on the suppression list (``--suppressed-share``, 10% by default), in
the same system, so the cost of screening is read off the same run.

    make bench            # or: .venv/bin/python bench/email_campaign.py --recipients 100000

Prints upload processing (rows/s), end-to-end delivery from send to LOGGED (messages/s) of each campaign, the CPU
seconds per message of every process involved (each service, PostgreSQL, RabbitMQ, the sink) over the send, each
service's peak memory, the bare smtplib rate and the ratios; writes the same as Markdown to
bench/out/email_campaign.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from postman.v1 import suppression_pb2, suppression_pb2_grpc  # noqa: E402
from postman_auth import agencies, api_keys  # noqa: E402
from postman_shared.db import Database  # noqa: E402
from tests.support import service_identity  # noqa: E402
from tests.support.api_client import PostmanApi  # noqa: E402
from tests.support.processes import RunningSystem, peak_rss_mb, start_system, stop_system  # noqa: E402
from tests.support.stores import create_stores, drop_stores, free_port  # noqa: E402

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


def bare_smtplib_rate(port: int, count: int) -> float:
    """The ceiling: one reused smtplib connection sending prebuilt messages to the same sink."""
    body = (TEMPLATE_BODY.replace("{{ name }}", "Resident 1") * 1).encode()
    message = (b"From: Postman <donotreply@mail.postman.gov.sg>\r\nTo: user1@example.gov.sg\r\n"
               b"Subject: Your appointment\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
               + body)
    connection = smtplib.SMTP("127.0.0.1", port)
    started = time.perf_counter()
    for _ in range(count):
        connection.sendmail("donotreply@mail.postman.gov.sg", ["user1@example.gov.sg"], message)
    elapsed = time.perf_counter() - started
    connection.quit()
    return count / elapsed


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # the process ended
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def processes_named(names: dict[str, str]) -> dict[int, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if command in names:
                found[int(entry.name)] = names[command]
    return found


def cpu_snapshot(system: RunningSystem) -> dict[str, float]:
    """CPU seconds used so far by each service process and, summed by kind, by PostgreSQL's and RabbitMQ's
    processes and the sink, and by the whole machine (/proc/stat, every process: the benchmark driver and any noise
    included)."""
    snapshot = {name: cpu_seconds(pid) for name, pid in system.pids().items()}
    for pid, kind in processes_named(OTHER_PROCESSES).items():
        snapshot[kind] = snapshot.get(kind, 0.0) + cpu_seconds(pid)
    busy = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system_time, _idle, _iowait, irq, softirq, steal = (int(v) for v in busy[:8])
    snapshot["machine"] = (user + nice + system_time + irq + softirq + steal) / CLOCK_TICKS
    return snapshot


@dataclass
class Delivery:
    label: str
    messages: int  # messages handed to the sink
    suppressed: int
    seconds: float
    cpu: dict[str, float]  # CPU seconds over the send, per process (kind)

    @property
    def rate(self) -> float:
        """Recipients through the pipeline per second (a suppressed one is screened, recorded and counted too)."""
        return (self.messages + self.suppressed) / self.seconds

    def cpu_per_message(self, name: str) -> float:
        return self.cpu[name] / (self.messages + self.suppressed)


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


def deliver(api: PostmanApi, system: RunningSystem, campaign_id: int, label: str, recipients: int,
            suppressed: int) -> Delivery:
    before = cpu_snapshot(system)
    send_started = time.perf_counter()
    api.send(campaign_id)
    stats = api.wait_for_status(campaign_id, "LOGGED", timeout=1800, poll=0.25)
    elapsed = time.perf_counter() - send_started
    after = cpu_snapshot(system)
    blacklisted = stats.get("outcomes", {}).get("blacklisted", 0)
    if stats["sent"] != recipients - suppressed or blacklisted != suppressed:
        sys.exit(f"{label}: expected {recipients - suppressed:,} sent and {suppressed:,} blacklisted: {stats}")
    delivery = Delivery(label, recipients - suppressed, suppressed, elapsed,
                        {name: after[name] - before.get(name, 0.0) for name in after})
    print(f"{label}: {recipients:,} recipients ({suppressed:,} suppressed), send -> LOGGED in {elapsed:.1f}s "
          f"= {delivery.rate:,.0f} recipients/s", flush=True)
    return delivery


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--bare", type=int, default=20_000, help="messages in the bare smtplib loop")
    parser.add_argument("--smtp-connections", type=int, default=4)
    parser.add_argument("--suppressed-share", type=float, default=0.1,
                        help="share of recipients suppressed in the second campaign; 0: run the plain one only")
    args = parser.parse_args()

    sink, sink_port = start_sink()
    stores = create_stores()
    work = Path(tempfile.mkdtemp(prefix="postman-bench-"))
    system = None
    try:
        bare = bare_smtplib_rate(sink_port, args.bare)
        print(f"bare smtplib loop to smtp-sink: {bare:,.0f} msg/s", flush=True)
        system = start_system(
            stores, work, EMAIL_TRANSPORT="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=str(sink_port),
            SMTP_CONNECTIONS=str(args.smtp_connections), LOG_LEVEL="WARNING",
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

        started = time.perf_counter()
        api.upload(campaign_id, content, "bench.csv")
        completed = time.perf_counter()
        status = api.wait_for_upload(campaign_id, timeout=600)
        processed = time.perf_counter()
        if status.get("csv_error") or status.get("num_recipients") != args.recipients:
            sys.exit(f"upload failed: {status}")
        upload_rate = args.recipients / (processed - completed)
        print(f"upload: PUT {completed - started:.2f}s, processing {processed - completed:.2f}s "
              f"= {upload_rate:,.0f} rows/s", flush=True)

        deliveries = [deliver(api, system, campaign_id, "plain", args.recipients, 0)]
        if args.suppressed_share > 0:
            every = max(1, round(1 / args.suppressed_share))
            suppressed = suppress(system, args.recipients, every)
            second = api.create_campaign("benchmark, suppressed share")
            api.set_template(second, TEMPLATE_SUBJECT, TEMPLATE_BODY)
            api.upload(second, content, "bench.csv")
            status = api.wait_for_upload(second, timeout=600)
            if status.get("csv_error") or status.get("num_recipients") != args.recipients:
                sys.exit(f"upload failed: {status}")
            deliveries.append(deliver(api, system, second, f"{suppressed / args.recipients:.0%} suppressed",
                                      args.recipients, suppressed))
        memory = {name: peak_rss_mb(pid) for name, pid in system.pids().items()}
        report(args, bare, upload_rate, processed - completed, deliveries, memory)
    finally:
        if system is not None:
            stop_system(system)
        drop_stores(stores)
        sink.terminate()
        shutil.rmtree(work, ignore_errors=True)


def report(args: argparse.Namespace, bare: float, upload_rate: float, upload_s: float, deliveries: list[Delivery],
           memory: dict[str, float]) -> None:
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
        "| recipients per second / bare smtplib | " + " | ".join(f"{d.rate / bare:.2f}" for d in deliveries) + " |",
    ]
    names = [name for name in deliveries[0].cpu if name != "machine"] + ["machine"]
    lines += [f"| CPU ms per recipient: {name} | "
              + " | ".join(f"{1000 * d.cpu_per_message(name):.3f}" for d in deliveries) + " |" for name in names]
    lines.append("| CPU ms per recipient: services + stores + sink | " + " | ".join(
        f"{1000 * sum(d.cpu_per_message(n) for n in names if n != 'machine'):.3f}" for d in deliveries) + " |")
    text = "\n".join([
        f"Upload processing (read, validate, store): {upload_s:.2f} s = **{upload_rate:,.0f} rows/s**; "
        f"bare smtplib loop, one connection, same sink: **{bare:,.0f} msg/s**; "
        f"{args.smtp_connections} SMTP connections.", "", *lines, "",
        "| peak RSS | " + " | ".join(memory) + " |", "| --- |" + " ---: |" * len(memory),
        "| MB | " + " | ".join(f"{mb:.0f}" for mb in memory.values()) + " |"])
    print("\n" + text)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "email_campaign.md").write_text(text + "\n")


if __name__ == "__main__":
    main()

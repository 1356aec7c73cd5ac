"""Benchmark: a 100,000-recipient email campaign through every service, as separate processes, to a local SMTP
sink (postfix's smtp-sink), next to a bare smtplib loop to the same sink measured in the same run.

    make bench            # or: .venv/bin/python bench/email_campaign.py --recipients 100000

Prints upload processing (rows/s), end-to-end delivery from send to LOGGED (messages/s), each service's peak
memory, the bare smtplib rate and the ratio; writes the same as Markdown to bench/out/email_campaign.md.
"""

from __future__ import annotations

import argparse
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from postman_auth import api_keys  # noqa: E402
from postman_shared.db import Database  # noqa: E402
from tests.support.api_client import PostmanApi  # noqa: E402
from tests.support.processes import peak_rss_mb, start_system, stop_system  # noqa: E402
from tests.support.stores import create_stores, drop_stores, free_port  # noqa: E402

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
TEMPLATE_SUBJECT = "Your appointment, {{ name }}"
TEMPLATE_BODY = (
    "<p>Dear {{ name }},</p><p>Your appointment is on <b>{{ appointment }}</b> at {{ clinic }}.</p>"
    "<p>Reference: {{ ref }}</p><p>Please bring your identity card.</p>"
)


def recipients_csv(count: int) -> bytes:
    lines = ["recipient,name,appointment,clinic,ref"]
    lines += [
        f"user{i}@example.gov.sg,Resident {i},2026-12-{1 + i % 28:02d} 10:{i % 60:02d},Clinic {i % 17},REF{i:08d}"
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--bare", type=int, default=20_000, help="messages in the bare smtplib loop")
    parser.add_argument("--smtp-connections", type=int, default=4)
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
            key = api_keys.create_api_key(session, api_keys.get_or_create_user(session, "bench@agency.gov.sg"),
                                          "bench")
        database.dispose()
        api = PostmanApi(system.gateway_url, key)
        campaign_id = api.create_campaign("benchmark")
        api.set_template(campaign_id, TEMPLATE_SUBJECT, TEMPLATE_BODY)
        content = recipients_csv(args.recipients)

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

        send_started = time.perf_counter()
        api.send(campaign_id)
        stats = api.wait_for_status(campaign_id, "LOGGED", timeout=1800, poll=0.25)
        elapsed = time.perf_counter() - send_started
        if stats["sent"] != args.recipients:
            sys.exit(f"not every message was sent: {stats}")
        delivery_rate = args.recipients / elapsed
        print(f"delivery: {args.recipients:,} messages, send -> LOGGED in {elapsed:.1f}s "
              f"= {delivery_rate:,.0f} msg/s", flush=True)
        memory = {name: peak_rss_mb(pid) for name, pid in system.pids().items()}
        report(args, bare, upload_rate, processed - completed, delivery_rate, elapsed, memory)
    finally:
        if system is not None:
            stop_system(system)
        drop_stores(stores)
        sink.terminate()
        shutil.rmtree(work, ignore_errors=True)


def report(args: argparse.Namespace, bare: float, upload_rate: float, upload_s: float, delivery_rate: float,
           delivery_s: float, memory: dict[str, float]) -> None:
    lines = [
        "| measure | value |",
        "| --- | --- |",
        f"| recipients | {args.recipients:,} |",
        f"| upload processing (read, validate, store) | {upload_s:.2f} s = **{upload_rate:,.0f} rows/s** |",
        f"| end-to-end delivery, send -> LOGGED | {delivery_s:.1f} s = **{delivery_rate:,.0f} msg/s** |",
        f"| bare smtplib loop, one connection, same sink | {bare:,.0f} msg/s |",
        f"| pipeline / bare smtplib | {delivery_rate / bare:.2f} |",
        f"| SMTP connections of sender-email | {args.smtp_connections} |",
    ]
    lines += [f"| peak RSS {name} | {mb:.0f} MB |" for name, mb in memory.items()]
    text = "\n".join(lines)
    print("\n" + text)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "email_campaign.md").write_text(text + "\n")


if __name__ == "__main__":
    main()

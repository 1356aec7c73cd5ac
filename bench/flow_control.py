"""Benchmark of the renderer's flow control (RENDER_WINDOW): the same big email campaign through every service (as
separate processes, to postfix's smtp-sink) once without a window (``RENDER_WINDOW=0``: the renderer renders the
whole job at once, as before flow control) and once with each window asked for, in the same run; in each, a small
campaign is sent once the big one is a third done.

    .venv/bin/python bench/flow_control.py --recipients 20000 --small 100 --windows 0,2000

Prints, per window: the big campaign's send -> LOGGED rate and the pipeline's CPU per message (every service,
PostgreSQL, RabbitMQ, the sink) as a ratio to a bare smtplib loop's measured in the same run; the peak of messages
ready in ``email.send`` and of that queue's memory (RabbitMQ's management API, this run's vhost only), RabbitMQ's
peak RSS growth over the run (beam.smp; the broker is shared with whatever else runs, so read it as a bound); and
the small campaign's send -> LOGGED time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.email_campaign import (  # noqa: E402
    TEMPLATE_BODY,
    TEMPLATE_SUBJECT,
    bare_smtplib_loop,
    cpu_snapshot,
    processes_named,
    recipients_csv,
    start_sink,
)
from postman_auth import api_keys  # noqa: E402
from postman_shared.db import Database  # noqa: E402
from tests.support.api_client import PostmanApi  # noqa: E402
from tests.support.processes import start_system, stop_system  # noqa: E402
from tests.support.stores import create_stores, drop_stores  # noqa: E402


class Sampler(threading.Thread):
    """Every 0.2 s: messages ready in email.send and its memory (management API), and beam.smp's RSS."""

    def __init__(self, vhost: str) -> None:
        super().__init__(daemon=True)
        self._url = f"http://127.0.0.1:15672/api/queues/{urllib.parse.quote(vhost, safe='')}/email.send"
        self._done = threading.Event()
        self.ready = self.memory = 0
        self.beam_rss_mb = self.beam_rss_start_mb = beam_rss_mb()

    def run(self) -> None:
        while not self._done.wait(0.2):
            try:
                queue = requests.get(self._url, auth=("guest", "guest"), timeout=5).json()
            except (requests.RequestException, ValueError):
                continue
            self.ready = max(self.ready, int(queue.get("messages_ready", 0)))
            self.memory = max(self.memory, int(queue.get("memory", 0)))
            self.beam_rss_mb = max(self.beam_rss_mb, beam_rss_mb())

    def stop(self) -> None:
        self._done.set()
        self.join()


def beam_rss_mb() -> float:
    total = 0.0
    for pid in processes_named({"beam.smp": "RabbitMQ"}):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def campaign(api: PostmanApi, name: str, content: bytes, rows: int) -> int:
    campaign_id = api.create_campaign(name)
    api.set_template(campaign_id, TEMPLATE_SUBJECT, TEMPLATE_BODY)
    api.upload(campaign_id, content, "bench.csv")
    status = api.wait_for_upload(campaign_id, timeout=600)
    if status.get("csv_error") or status.get("num_recipients") != rows:
        sys.exit(f"upload failed: {status}")
    return campaign_id


def one_window(window: int, args: argparse.Namespace, sink_pid: int, sink_port: int) -> dict[str, Any]:
    stores = create_stores()
    database_name = stores.database_url.rsplit("/", 1)[1]
    vhost = urllib.parse.unquote(stores.amqp_url.rsplit("/", 1)[1])
    work = Path(tempfile.mkdtemp(prefix="postman-bench-flow-"))
    system = None
    try:
        system = start_system(stores, work, EMAIL_TRANSPORT="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=str(sink_port),
                              SMTP_CONNECTIONS="4", LOG_LEVEL="INFO", RENDER_WINDOW=str(window))
        database = Database(stores.database_url, pool_size=1)
        with database.unit_of_work() as session:
            key = api_keys.create_api_key(session, api_keys.get_or_create_user(session, "bench@agency.gov.sg"),
                                          "bench")
        database.dispose()
        api = PostmanApi(system.gateway_url, key)
        big = campaign(api, "big", recipients_csv(args.recipients), args.recipients)
        small = campaign(api, "small", recipients_csv(args.small), args.small)

        sampler = Sampler(vhost)
        sampler.start()
        before = cpu_snapshot(system, database_name, sink_pid)
        started = time.perf_counter()
        api.send(big)
        while api.stats(big).get("sent", 0) < args.recipients // 3:
            time.sleep(0.1)
        small_started = time.perf_counter()
        api.send(small)
        api.wait_for_status(small, "LOGGED", timeout=1800, poll=0.1)
        small_seconds = time.perf_counter() - small_started
        stats = api.wait_for_status(big, "LOGGED", timeout=1800, poll=0.25)
        seconds = time.perf_counter() - started
        after = cpu_snapshot(system, database_name, sink_pid)
        sampler.stop()
        if stats["sent"] != args.recipients:
            sys.exit(f"big campaign: expected {args.recipients:,} sent: {stats}")
        per_process = {name: after[name] - before.get(name, 0.0) for name in after if name != "machine"}
        cpu = sum(per_process.values())
        count = args.recipients + args.small
        print(f"RENDER_WINDOW={window}: CPU ms per message by process: " + ", ".join(
            f"{name} {1000 * seconds / count:.3f}" for name, seconds in sorted(per_process.items())), flush=True)
        return {"window": window, "seconds": seconds, "rate": (args.recipients + args.small) / seconds,
                "cpu_per_message": cpu / (args.recipients + args.small), "small_seconds": small_seconds,
                "peak_ready": sampler.ready, "peak_queue_memory_mb": sampler.memory / 2**20,
                "beam_rss_growth_mb": sampler.beam_rss_mb - sampler.beam_rss_start_mb}
    finally:
        if system is not None:
            stop_system(system)
        drop_stores(stores)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--windows", default="0,2000", help="RENDER_WINDOW values, comma-separated; 0: none")
    parser.add_argument("--bare", type=int, default=10_000, help="messages in the bare smtplib loop")
    args = parser.parse_args()
    sink, sink_port = start_sink()
    try:
        bare = bare_smtplib_loop(sink_port, args.bare, sink.pid)
        print(f"bare smtplib loop: {bare.rate:,.0f} msg/s, {1000 * bare.cpu_per_message:.3f} CPU ms per message",
              flush=True)
        print("| RENDER_WINDOW | big: send -> LOGGED | rate / bare | CPU per message / bare | peak ready in "
              "email.send | its peak memory | RabbitMQ RSS growth | small campaign: send -> LOGGED |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for window in (int(w) for w in args.windows.split(",")):
            r = one_window(window, args, sink.pid, sink_port)
            print(f"| {window or 'none'} | {r['rate']:,.0f} msg/s ({r['seconds']:.1f} s) | "
                  f"{r['rate'] / bare.rate:.2f} | {r['cpu_per_message'] / bare.cpu_per_message:.2f} "
                  f"({1000 * r['cpu_per_message']:.3f} ms) | {r['peak_ready']:,} | "
                  f"{r['peak_queue_memory_mb']:.1f} MB | {r['beam_rss_growth_mb']:+.0f} MB | "
                  f"{r['small_seconds']:.1f} s |", flush=True)
    finally:
        sink.terminate()


if __name__ == "__main__":
    main()

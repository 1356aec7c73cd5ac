"""Benchmark: does a transactional email stay fast while a 100,000-recipient campaign is being sent?

    make bench            # or: .venv/bin/python bench/transactional_latency.py --recipients 100000 --probes 200

Every service runs as its own process (as `make run` starts them) with ``EMAIL_TRANSPORT=smtp`` to one local SMTP
sink: ``--sinks`` aiosmtpd processes sharing one port (``SO_REUSEPORT``: the kernel spreads the connections) that
answer every message at once and, for the probe emails (recipients ``probe-<n>@probe.example``), write down when
their data arrived. (postfix's smtp-sink, which ``bench/email_campaign.py`` uses, cannot say when a given message
arrived; a Python sink is slower, so the campaign here runs below that benchmark's rate.) The driver then

1. sends ``--idle-probes`` transactional emails with no campaign running, a few per second (the baseline);
2. uploads and sends a campaign of ``--recipients`` addresses, and while it is being delivered (until its stats say
   LOGGED) sends ``--probes`` transactional emails at ``--probe-rate`` per second.

Each probe is timed from the moment its ``POST /v1/transactional/email/send`` leaves the driver to the moment the
sink has its data (``request → sink``), and to the moment the driver has the 201 (``request → 201``). The send is
synchronous (the gateway answers once the provider took the message), so the email is at the sink before the 201
arrives: "from acceptance to the sink" is the whole of ``request → sink``. Both clocks are the same machine's
``time.time()``. Only probes sent while the campaign was still being delivered count for the "during" row.

Prints p50/p99/max of both, for both phases, and the campaign's own rate; writes the table to
bench/out/transactional_latency.md. Under 5 minutes on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.email_campaign import TEMPLATE_BODY, TEMPLATE_SUBJECT, recipients_csv  # noqa: E402
from bench.results import run_facts, write_results  # noqa: E402
from postman_auth import api_keys  # noqa: E402
from postman_shared.db import Database  # noqa: E402
from tests.support.api_client import PostmanApi  # noqa: E402
from tests.support.processes import start_system, stop_system  # noqa: E402
from tests.support.stores import create_stores, drop_stores, free_port  # noqa: E402

PROBE_DOMAIN = "probe.example"


# --- the sink (its own process: python bench/transactional_latency.py --sink PORT FILE) ---------------------------

def run_sink(port: int, arrivals: Path) -> None:
    from aiosmtpd.smtp import SMTP

    out = arrivals.open("a", buffering=1)  # O_APPEND: whole lines from several sink processes never interleave

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's
            now = time.time()
            probes = [r for r in envelope.rcpt_tos if r.endswith("@" + PROBE_DOMAIN)]
            if probes:
                out.write(f"{probes[0].split('@')[0]} {now:.6f}\n")
            return "250 2.0.0 Ok: queued"

    loop = asyncio.new_event_loop()
    handler = Handler()
    loop.run_until_complete(loop.create_server(lambda: SMTP(handler, hostname="sink.local", loop=loop),
                                               "127.0.0.1", port, reuse_port=True))
    print("ready", flush=True)
    loop.run_forever()


def start_sinks(work: Path, count: int) -> tuple[list[subprocess.Popen[bytes]], int, Path]:
    port = free_port()
    arrivals = work / "arrivals.txt"
    arrivals.touch()
    sinks = []
    for _ in range(count):
        sink = subprocess.Popen([sys.executable, __file__, "--sink", str(port), str(arrivals)],
                                stdout=subprocess.PIPE)
        sinks.append(sink)
        assert sink.stdout is not None
        if sink.stdout.readline().strip() != b"ready":
            for started in sinks:
                started.kill()
            sys.exit("the SMTP sink did not start")
    return sinks, port, arrivals


def read_arrivals(arrivals: Path) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in arrivals.read_text().splitlines():
        token, at = line.split()
        found.setdefault(token, float(at))
    return found


# --- probes ----------------------------------------------------------------------------------------------------------

class Prober:
    """Sends probe emails one after another at a fixed rate and remembers when each was sent and answered."""

    def __init__(self, api: PostmanApi, prefix: str) -> None:
        self._api = api
        self._prefix = prefix
        self.sent: dict[str, tuple[float, float]] = {}  # token -> (request sent, 201 received)

    def send_one(self, n: int) -> str:
        token = f"probe-{self._prefix}{n}"
        started = time.time()
        response = self._api.http.post(f"{self._api.base_url}/v1/transactional/email/send",
                                       json={"subject": f"Your code ({token})", "body": "<p>Your code is 123456</p>",
                                             "recipient": f"{token}@{PROBE_DOMAIN}"}, timeout=60)
        answered = time.time()
        if response.status_code != 201:
            raise RuntimeError(f"probe {token}: {response.status_code} {response.text}")
        self.sent[token] = (started, answered)
        return token

    def run(self, count: int, rate: float, keep_going: threading.Event | None = None) -> None:
        interval = 1.0 / rate
        next_at = time.monotonic()
        for n in range(count):
            if keep_going is not None and not keep_going.is_set():
                return
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            self.send_one(n)


def wait_for_arrivals(arrivals: Path, tokens: set[str], timeout: float = 120.0) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        found = read_arrivals(arrivals)
        if tokens <= set(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"n": len(ordered), "p50": statistics.median(ordered), "p99": cuts[98], "max": ordered[-1]}


def latencies(prober: Prober, found: dict[str, float], tokens: list[str]) -> tuple[dict[str, float],
                                                                                     dict[str, float], int]:
    to_sink = [found[t] - prober.sent[t][0] for t in tokens if t in found]
    to_201 = [prober.sent[t][1] - prober.sent[t][0] for t in tokens]
    return percentiles([s * 1000 for s in to_sink]), percentiles([s * 1000 for s in to_201]), \
        sum(t not in found for t in tokens)


# --- the run ---------------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=200, help="transactional emails during the campaign (at most)")
    parser.add_argument("--idle-probes", type=int, default=50, help="transactional emails with no campaign")
    parser.add_argument("--probe-rate", type=float, default=5.0, help="transactional emails per second")
    parser.add_argument("--smtp-connections", type=int, default=4)
    parser.add_argument("--sinks", type=int, default=2, help="SMTP sink processes on the one port")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="postman-bench-tx-"))
    sinks, sink_port, arrivals = start_sinks(work, args.sinks)
    stores = create_stores()
    system = None
    try:
        system = start_system(stores, work, EMAIL_TRANSPORT="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=str(sink_port),
                              SMTP_CONNECTIONS=str(args.smtp_connections), LOG_LEVEL="WARNING")
        database = Database(stores.database_url, pool_size=1)
        with database.unit_of_work() as session:
            # A send limit above the probe rate: the probes must measure delivery, not be refused.
            user = api_keys.get_or_create_user(session, "bench@agency.gov.sg", rate_limit=1000)
            key = api_keys.create_api_key(session, user, "bench")
        database.dispose()
        api = PostmanApi(system.gateway_url, key)

        idle = Prober(api, "idle-")
        idle.run(args.idle_probes, args.probe_rate)
        idle_tokens = list(idle.sent)
        print(f"idle: {len(idle_tokens)} probes sent", flush=True)

        campaign_id = api.create_campaign("transactional latency")
        api.set_template(campaign_id, TEMPLATE_SUBJECT, TEMPLATE_BODY)
        api.upload(campaign_id, recipients_csv(args.recipients), "bench.csv")
        status = api.wait_for_upload(campaign_id, timeout=600)
        if status.get("num_recipients") != args.recipients:
            sys.exit(f"upload failed: {status}")

        busy = Prober(api, "busy-")
        sending = threading.Event()
        sending.set()
        sent_at = time.time()
        api.send(campaign_id)
        probing = threading.Thread(target=busy.run, args=(args.probes, args.probe_rate, sending), daemon=True)
        probing.start()
        stats = api.wait_for_status(campaign_id, "LOGGED", timeout=1800, poll=0.25)
        logged_at = time.time()
        sending.clear()
        probing.join()
        campaign_seconds = logged_at - sent_at
        during = [t for t, (started, _) in busy.sent.items() if started < logged_at]
        print(f"campaign: {stats['sent']:,} sent in {campaign_seconds:.1f}s; {len(during)} probes during it",
              flush=True)

        found = wait_for_arrivals(arrivals, set(idle_tokens) | set(during))
        report(args, latencies(idle, found, idle_tokens), latencies(busy, found, during), stats["sent"],
               campaign_seconds)
    finally:
        if system is not None:
            stop_system(system)
        drop_stores(stores)
        for sink in sinks:
            sink.terminate()
            sink.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def report(args: argparse.Namespace, idle: tuple[dict[str, float], dict[str, float], int],
           busy: tuple[dict[str, float], dict[str, float], int], campaign_sent: int, campaign_seconds: float) -> None:
    def row(what: str, measured: tuple[dict[str, float], dict[str, float], int]) -> str:
        to_sink, to_201, missing = measured
        lost = f" ({missing} never arrived)" if missing else ""
        return (f"| {what} | {to_sink['n']}{lost} | **{to_sink['p50']:.0f}** | **{to_sink['p99']:.0f}** | "
                f"{to_sink['max']:.0f} | {to_201['p50']:.0f} | {to_201['p99']:.0f} |")

    lines = [
        f"Campaign: {campaign_sent:,} emails, send → LOGGED in {campaign_seconds:.1f} s = "
        f"{campaign_sent / campaign_seconds:,.0f} msg/s, {args.smtp_connections} SMTP connections; probes at "
        f"{args.probe_rate:g}/s; {args.sinks} SMTP sink processes.",
        "",
        "| transactional emails | probes | request → sink p50 (ms) | p99 (ms) | max (ms) | request → 201 p50 (ms) "
        "| p99 (ms) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        row("no campaign running", idle),
        row(f"during the {campaign_sent:,}-recipient campaign", busy),
    ]
    text = "\n".join(lines)
    print("\n" + text)

    def figures(measured: tuple[dict[str, float], dict[str, float], int]) -> dict[str, Any]:
        to_sink, to_201, missing = measured
        return {"request_to_sink_ms": to_sink, "request_to_201_ms": to_201, "never_arrived": missing}

    write_results("transactional_latency", run_facts(), {
        "benchmark": "transactional_latency", "parameters": {k: v for k, v in vars(args).items()},
        "campaign": {"sent": campaign_sent, "seconds": round(campaign_seconds, 3),
                     "messages_per_second": round(campaign_sent / campaign_seconds, 1)},
        "idle": figures(idle), "during_campaign": figures(busy),
    }, text)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--sink":
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        run_sink(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()

"""Benchmark: does the retention purge slow a campaign that is sending? (issue 16: purging 1,000,000 recipient rows
must not slow a running campaign by more than 10%.)

    make bench-purge      # or: .venv/bin/python bench/purge.py --recipients 100000 --purge-rows 1000000

Every service runs as its own process (as in bench/email_campaign.py) and sends to a local SMTP sink (postfix's
smtp-sink). After a warm-up campaign (``--warmup``), the same email campaign is sent twice, send to LOGGED timed each
time:

1. alone;
2. while the purge redacts an old finished campaign of ``--purge-rows`` recipients, written straight into the
   tables beforehand (a LOGGED job 40 days old, one outcome and one delivery row per recipient, as a sent campaign
   leaves them).

3. alone again, once the purge is stopped: the slowdown is judged against the mean of the two runs alone, so
   that the machine's drift between runs (~10%) is not taken for the purge's cost.

The purge is the campaign service's own code (``postman_campaign.retention.purge``, with the purge loop's batch,
pause and duty cycle: it works at most 10% of the time, ``--duty``), run in a thread of this driver as the loop
would run it, from the second send's start to its end; the services' own loop is set to wait a day, so it stays out
of the way. With ``--finish`` the purge is then run to the end flat out (duty 1), to show that every row goes and
how fast. Prints the rates, the slowdown and what the purge removed meanwhile, and writes bench/out/purge.md and
bench/out/purge.json.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench.email_campaign import TEMPLATE_BODY, TEMPLATE_SUBJECT, recipients_csv, start_sink  # noqa: E402
from bench.results import run_facts, write_results  # noqa: E402
from postman_auth import api_keys  # noqa: E402
from postman_campaign.retention import LOOP_DUTY, LOOP_PAUSE_SECONDS, PurgeReport, Retention, purge  # noqa: E402
from postman_shared.db import Database  # noqa: E402
from tests.support.api_client import PostmanApi  # noqa: E402
from tests.support.processes import start_system, stop_system  # noqa: E402
from tests.support.stores import create_stores, drop_stores  # noqa: E402

LIMIT = 0.10  # the bound on the slowdown


def old_finished_campaign(database: Database, rows: int, chunk: int = 200_000) -> int:
    """A campaign sent 40 days ago and finished, with ``rows`` recipients and their outcome and delivery rows."""
    with database.unit_of_work() as session:
        campaign_id = session.scalar(text(
            "INSERT INTO campaigns (user_id, name, type, csv_filename, recipient_keys, num_recipients) "
            "VALUES (1, 'old', 'EMAIL', 'old.csv', '{recipient,name}', :n) RETURNING id"), {"n": rows})
        job_id = session.scalar(text(
            "INSERT INTO jobs (campaign_id, status, status_updated_at, sent_at) VALUES "
            "(:c, 'LOGGED', now() - interval '40 days', now() - interval '40 days') RETURNING id"), {"c": campaign_id})
    for start in range(0, rows, chunk):
        with database.unit_of_work() as session:
            ids = text("SELECT id, campaign_id, recipient FROM recipients WHERE campaign_id = :c AND line > :s")
            session.execute(text(
                "INSERT INTO recipients (campaign_id, line, recipient, params, valid) "
                "SELECT :c, n, 'old' || n || '@example.gov.sg', jsonb_build_object('name', 'Resident ' || n), true "
                "FROM generate_series(:s + 1, :e) n"), {"c": campaign_id, "s": start, "e": min(rows, start + chunk)})
            session.execute(text(
                "INSERT INTO message_outcomes (recipient_id, campaign_id, job_id, status) "
                f"SELECT id, campaign_id, :j, 'DELIVERED' FROM ({ids.text}) r"),
                {"c": campaign_id, "j": job_id, "s": start})
            session.execute(text(
                "INSERT INTO email_deliveries (message_id, campaign_id, status, recipient_id) "
                f"SELECT id::text, campaign_id, 'SENT', id FROM ({ids.text}) r"), {"c": campaign_id, "s": start})
    with database.unit_of_work() as session:
        session.execute(text("INSERT INTO campaign_counters (campaign_id, job_id, sent, delivered, expected, "
                             "logged_at) VALUES (:c, :j, :n, :n, :n, now())"),
                        {"c": campaign_id, "j": job_id, "n": rows})
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE recipients, message_outcomes, email_deliveries"))
    return int(campaign_id)


def send_and_time(api: PostmanApi, content: bytes, recipients: int, label: str,
                  when_sent: threading.Event | None = None) -> float:
    """Sends a new campaign of ``content``; returns its rate, send to LOGGED, in messages per second."""
    campaign_id = api.create_campaign(label)
    api.set_template(campaign_id, TEMPLATE_SUBJECT, TEMPLATE_BODY)
    api.upload(campaign_id, content, "bench.csv")
    status = api.wait_for_upload(campaign_id, timeout=1800)
    if status.get("csv_error") or status.get("num_recipients") != recipients:
        sys.exit(f"upload failed: {status}")
    started = time.perf_counter()
    api.send(campaign_id)
    if when_sent is not None:
        when_sent.set()
    stats = api.wait_for_status(campaign_id, "LOGGED", timeout=7200, poll=0.25)
    elapsed = time.perf_counter() - started
    if stats["sent"] != recipients:
        sys.exit(f"{label}: expected {recipients:,} sent: {stats}")
    rate = recipients / elapsed
    print(f"{label}: {recipients:,} messages, send -> LOGGED in {elapsed:.1f}s = {rate:,.0f} msg/s", flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000, help="recipients of the campaign sent")
    parser.add_argument("--purge-rows", type=int, default=1_000_000, help="recipient rows of the old campaign purged")
    parser.add_argument("--batch-size", type=int, default=5000, help="PURGE_BATCH_SIZE")
    parser.add_argument("--duty", type=float, default=LOOP_DUTY,
                        help="share of the time the purge works (the purge loop's: 0.1); 1: flat out")
    parser.add_argument("--warmup", type=int, default=5000, help="recipients of a first campaign, not measured")
    parser.add_argument("--smtp-connections", type=int, default=4)
    parser.add_argument("--finish", action="store_true",
                        help="after the measured runs, purge the rest flat out and check every row went")
    parser.add_argument("--name", default="purge", help="writes bench/out/<name>.md and bench/out/<name>.json")
    args = parser.parse_args()

    facts = run_facts()
    sink, sink_port = start_sink()
    stores = create_stores()
    work = Path(tempfile.mkdtemp(prefix="postman-bench-purge-"))
    system = None
    try:
        system = start_system(stores, work, EMAIL_TRANSPORT="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=str(sink_port),
                              SMTP_CONNECTIONS=str(args.smtp_connections), PURGE_INTERVAL_SECONDS="86400")
        database = Database(stores.database_url, pool_size=2)
        with database.unit_of_work() as session:
            key = api_keys.create_api_key(session, api_keys.get_or_create_user(session, "bench@agency.gov.sg"),
                                          "bench")
        api = PostmanApi(system.gateway_url, key)
        content = recipients_csv(args.recipients)

        if args.warmup:  # the first campaign of a fresh system pays for cold caches and connections: not this one
            send_and_time(api, recipients_csv(args.warmup), args.warmup, "warm-up")
        alone = send_and_time(api, content, args.recipients, "alone")

        started = time.perf_counter()
        old = old_finished_campaign(database, args.purge_rows)
        print(f"old campaign {old}: {args.purge_rows:,} recipient rows (+ outcomes, deliveries) written in "
              f"{time.perf_counter() - started:.1f}s", flush=True)

        sent = threading.Event()
        stop = threading.Event()
        purged: dict[str, Any] = {}
        retention = Retention(30, 30, 365, args.batch_size)

        def purger() -> None:
            sent.wait()
            began = time.perf_counter()
            report: PurgeReport = purge(database, retention, pause=LOOP_PAUSE_SECONDS, duty=args.duty,
                                        should_stop=stop.is_set)
            purged.update(report=report, seconds=time.perf_counter() - began, ended=time.perf_counter())

        thread = threading.Thread(target=purger, name="purge")
        thread.start()
        with_purge = send_and_time(api, content, args.recipients, "while purging", sent)
        send_ended = time.perf_counter()
        stop.set()
        thread.join()
        report = purged["report"]
        if report.recipients == 0:
            sys.exit("the purge removed nothing while the campaign was sent")
        overlap = "the whole send" if purged["ended"] >= send_ended else "part of the send only (it finished first)"
        alone_after = send_and_time(api, content, args.recipients, "alone, after")
        baseline = (alone + alone_after) / 2
        slowdown = 1 - with_purge / baseline
        purge_rate = report.recipients / purged["seconds"]
        verdict = "within" if slowdown <= LIMIT else "OVER"
        print(f"purge meanwhile: {report.recipients:,} recipients, {report.message_outcomes:,} outcomes, "
              f"{report.deliveries:,} deliveries in {purged['seconds']:.1f}s = {purge_rate:,.0f} recipients/s at duty "
              f"{args.duty:.0%}, overlapping {overlap}", flush=True)
        print(f"slowdown of the campaign while purging: {slowdown:.1%} against the mean of the runs alone "
              f"({verdict} the {LIMIT:.0%} bound)", flush=True)
        finish: dict[str, Any] = {}
        if args.finish:
            began = time.perf_counter()
            rest = purge(database, retention, pause=0.0, duty=1.0)
            finish = {"recipients": rest.recipients, "seconds": time.perf_counter() - began}
            total = report.recipients + rest.recipients
            print(f"purge to the end, flat out: {rest.recipients:,} more recipients in {finish['seconds']:.1f}s "
                  f"({rest.recipients / max(finish['seconds'], 1e-9):,.0f}/s); {total:,} of {args.purge_rows:,} in all",
                  flush=True)
            if total < args.purge_rows:
                sys.exit(f"the purge removed {total:,} recipient rows in all, expected {args.purge_rows:,}")
        figures = {"recipients": args.recipients, "purge_rows": args.purge_rows, "batch_size": args.batch_size,
                   "duty": args.duty, "rate_alone": alone, "rate_alone_after": alone_after,
                   "rate_while_purging": with_purge, "slowdown": slowdown,
                   "purge_seconds": purged["seconds"], "purge_recipients_per_second": purge_rate,
                   "purge_overlapped_whole_send": purged["ended"] >= send_ended, "purged": report.as_dict(),
                   "finish": finish}
        markdown = "\n".join([
            "# Purge while sending", "",
            f"{facts['date']}, commit {facts['commit']}, {facts['machine'].get('cores')} cores.", "",
            "| | |", "| --- | --- |",
            f"| campaign | {args.recipients:,} recipients |",
            f"| rate alone, before / after | {alone:,.0f} / {alone_after:,.0f} msg/s |",
            f"| rate while purging an old campaign of {args.purge_rows:,} rows | {with_purge:,.0f} msg/s |",
            f"| slowdown (against the mean alone) | {slowdown:.1%} ({verdict} {LIMIT:.0%}) |",
            f"| purged during the send | {report.recipients:,} recipients (+ {report.message_outcomes:,} outcomes, "
            f"{report.deliveries:,} deliveries) in {purged['seconds']:.1f} s, batches of {args.batch_size:,}, "
            f"duty {args.duty:.0%} |",
        ] + ([f"| the rest, flat out | {finish['recipients']:,} recipients in {finish['seconds']:.1f} s |"]
             if finish else []))
        path = write_results(args.name, facts, figures, markdown)
        print(f"written: {path}", flush=True)
        database.dispose()
    finally:
        if system is not None:
            stop_system(system)
        drop_stores(stores)
        sink.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

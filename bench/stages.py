"""Benchmark: each stage of the email pipeline measured alone, as its own process on its own isolated stores, so we
can tell which stage (if any) caps the end-to-end rate.

    .venv/bin/python bench/stages.py --messages 100000

- renderer: a campaign with N valid recipients and a template written straight into campaign's tables, a SendJob
  on ``campaign.send``; auth (the agency of the theme) + campaign + renderer run, nothing consumes ``email.send``.
- sender-email: ``email.send`` pre-filled with N RenderedEmails, then sender-email started (SMTP to smtp-sink with
  4 connections, then again with the outbox transport); nothing consumes ``delivery.events``.
- stats: ``delivery.events`` pre-filled with a JobRendered and N DeliveryEvents; stats + campaign run.
- the bare smtplib loop to the same smtp-sink, as in bench/email_campaign.py.

Each rate is taken from the first progress seen to the last message (process start-up is not counted), polling the
stage's own table. Writes the table to bench/out/stages.md and every figure to bench/out/stages.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench.email_campaign import TEMPLATE_BODY, TEMPLATE_SUBJECT, bare_smtplib_rate, start_sink  # noqa: E402
from bench.results import run_facts, write_results  # noqa: E402
from postman_campaign.models import Campaign, EmailTemplate, Job  # noqa: E402
from postman_campaign.recipient_file import RecipientRow  # noqa: E402
from postman_campaign.recipients_store import RecipientCopySource, copy_recipients  # noqa: E402
from postman_renderer.email_template import EmailMessageTemplate, validate_email_template  # noqa: E402
from postman_renderer.theme import EmailLook, ThemedEmail  # noqa: E402
from postman_shared.broker import OutgoingMessage, Publisher  # noqa: E402
from postman_shared.broker.batches import batched  # noqa: E402
from postman_shared.broker.topology import CAMPAIGN_SEND, DELIVERY_EVENTS, EMAIL_SEND  # noqa: E402
from postman_shared.db import Database  # noqa: E402
from postman_shared.delivery_events import delivery_event_messages  # noqa: E402
from postman_shared.messages import DeliveryEvent, JobRendered, RenderedEmail, SendJob  # noqa: E402
from postman_shared.settings import Settings  # noqa: E402
from postman_shared.unsubscribe_links import DEVELOPMENT_KEYS, UnsubscribeLinks, parse_keys  # noqa: E402
from tests.support.processes import RunningSystem, start_services, stop_system  # noqa: E402
from tests.support.stores import Stores, create_stores, drop_stores  # noqa: E402

KEYS = ["recipient", "name", "appointment", "clinic", "ref"]
SENDER = Settings.email_from
PUBLISH_BATCH = 2000
POLL_SECONDS = 0.2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class StageResult:
    stage: str
    messages: int  # counted in the measured window (from the first progress seen to the end)
    seconds: float
    cpu: dict[str, float]  # each service process's CPU time over the window, as a share of one core

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def params_of(i: int) -> dict[str, str]:
    """Recipient i's values, stored the way the upload worker stores them (lower-cased keys, "recipient" too)."""
    return {"recipient": f"user{i}@example.gov.sg", "name": f"Resident {i}",
            "appointment": f"2026-12-{1 + i % 28:02d} 10:{i % 60:02d}", "clinic": f"Clinic {i % 17}",
            "ref": f"REF{i:08d}"}


# -- seeding ---------------------------------------------------------------------------------------------------------

def seed_campaign(database: Database, recipients: int, job_status: str) -> tuple[int, int]:
    """A sendable campaign (template, ``recipients`` valid rows loaded with COPY) and one job; its ids."""
    validated = validate_email_template(TEMPLATE_SUBJECT, TEMPLATE_BODY)
    with database.unit_of_work() as session:
        campaign = Campaign(user_id=1, name="stages benchmark", type="EMAIL", csv_filename="bench.csv",
                            recipient_keys=KEYS, num_recipients=recipients, num_invalid=0)
        session.add(campaign)
        session.flush()
        session.add(EmailTemplate(campaign_id=campaign.id, subject=validated.subject, body=validated.body,
                                  reply_to=None, from_address=SENDER, params=validated.params))
        rows = (RecipientRow(i + 2, f"user{i}@example.gov.sg", params_of(i), True) for i in range(recipients))
        copy_recipients(session.connection().connection.dbapi_connection, RecipientCopySource(campaign.id, rows))
        job = Job(campaign_id=campaign.id, status=job_status)
        session.add(job)
        session.flush()
        return campaign.id, job.id


def publish_all(stores: Stores, messages: Iterator[OutgoingMessage],
                pack: Callable[[list[OutgoingMessage]], list[OutgoingMessage]] = list) -> None:
    """Publishes with confirms, PUBLISH_BATCH at a time (``pack``: batched for rendered messages)."""
    publisher = Publisher(stores.amqp_url, app_id="bench")
    try:
        batch: list[OutgoingMessage] = []
        for message in messages:
            batch.append(message)
            if len(batch) >= PUBLISH_BATCH:
                publisher.publish(pack(batch))
                batch = []
        publisher.publish(pack(batch))
    finally:
        publisher.close()


def rendered_emails(count: int) -> Iterator[OutgoingMessage]:
    """What the renderer would publish for a campaign of ``count`` recipients (campaign 1, job 1, owner 1), each
    in the theme (HTML and text parts) with its unsubscribe link in the footer and for the List-Unsubscribe
    headers."""
    validated = validate_email_template(TEMPLATE_SUBJECT, TEMPLATE_BODY)
    template = EmailMessageTemplate.parse(validated.subject, validated.body)
    themed = ThemedEmail(template, EmailLook("Ministry of Benchmarks", "https://example.gov.sg/logo.png", True))
    links = UnsubscribeLinks("http://localhost:8080", parse_keys(DEVELOPMENT_KEYS))
    for i in range(count):
        to = f"user{i}@example.gov.sg"
        url = links.url(1, to)
        rendered = themed.render(params_of(i), url)
        email = RenderedEmail(recipient_id=i + 1, campaign_id=1, job_id=1, to=to, sender=SENDER, reply_to=None,
                              subject=rendered.subject, body=rendered.html, user_id=1, unsubscribe_url=url,
                              text=rendered.text)
        yield OutgoingMessage(EMAIL_SEND, email.to_dict(), email.message_id)


def delivery_events(campaign_id: int, job_id: int, count: int) -> Iterator[OutgoingMessage]:
    rendered = JobRendered(job_id=job_id, campaign_id=campaign_id, total=count)
    yield OutgoingMessage(DELIVERY_EVENTS, rendered.to_dict(), rendered.message_id)
    # As the senders announce them: one message per sender batch (SENDER_BATCH_SIZE, 200) of a job.
    for start in range(0, count, 200):
        yield from delivery_event_messages([
            DeliveryEvent(recipient_id=i + 1, campaign_id=campaign_id, job_id=job_id, status="SENT")
            for i in range(start, min(count, start + 200))])


# -- measuring -------------------------------------------------------------------------------------------------------

@contextmanager
def isolated(services: list[str], **env: str) -> Iterator[tuple[Stores, Database, Callable[[], RunningSystem]]]:
    """Fresh stores, a database handle for seeding and polling, and a function that starts the services."""
    stores = create_stores()
    work = Path(tempfile.mkdtemp(prefix="postman-stages-"))
    database = Database(stores.database_url, pool_size=1)
    systems: list[RunningSystem] = []

    def start() -> RunningSystem:
        systems.append(start_services(stores, work, services, LOG_LEVEL="WARNING", **env))
        return systems[-1]

    try:
        yield stores, database, start
    finally:
        for system in systems:
            stop_system(system)
        database.dispose()
        drop_stores(stores)
        shutil.rmtree(work, ignore_errors=True)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def wait_for(stage: str, system: RunningSystem, database: Database, progress_sql: str, total: int) -> StageResult:
    """Polls ``progress_sql`` (a number that reaches ``total`` when the stage is done) and times the window from the
    first progress seen to the end, with the CPU each service process used in that window."""
    deadline = time.monotonic() + max(600.0, total / 100)
    started_at, started_count, cpu_start = 0.0, 0, {}
    while time.monotonic() < deadline:
        for name, process in system.processes.items():
            if process.poll() is not None:
                sys.exit(f"{stage}: {name} exited with {process.returncode}\n{system.logs(name)}")
        with database.engine.connect() as connection:
            done = int(connection.scalar(text(progress_sql)) or 0)
        now = time.perf_counter()
        if done and not started_at:
            started_at, started_count = now, done
            cpu_start = {name: cpu_seconds(pid) for name, pid in system.pids().items()}
        if done >= total:
            if done == started_count:
                sys.exit(f"{stage}: finished before any progress was seen; use more --messages")
            elapsed = now - started_at
            cpu = {name: (cpu_seconds(pid) - cpu_start[name]) / elapsed for name, pid in system.pids().items()}
            result = StageResult(stage, total - started_count, elapsed, cpu)
            print(f"{stage}: {result.messages:,} in {elapsed:.1f}s = {result.rate:,.0f}/s, CPU "
                  + ", ".join(f"{n} {c:.0%}" for n, c in cpu.items()), flush=True)
            return result
        time.sleep(POLL_SECONDS)
    sys.exit(f"{stage}: not done in time\n" + "\n".join(f"--- {n}\n{system.logs(n)}" for n in system.processes))


def renderer_stage(count: int) -> StageResult:
    with isolated(["auth", "campaign", "renderer"]) as (stores, database, start):
        campaign_id, job_id = seed_campaign(database, count, "ENQUEUED")
        system = start()
        job = SendJob(job_id=job_id, campaign_id=campaign_id, user_id=1)
        publish_all(stores, iter([OutgoingMessage(CAMPAIGN_SEND, job.to_dict(), job.message_id)]))
        # Reaches the total only once finished_at is set, i.e. after JobRendered was published.
        progress = f"SELECT published - (finished_at IS NULL)::int FROM render_progress WHERE job_id = {job_id}"
        return wait_for("renderer", system, database, progress, count)


def sender_stage(count: int, transport: str, smtp_port: int, connections: int) -> StageResult:
    # campaign answers the sender's screening (suppression list, stopped jobs): one call of each per batch.
    with isolated(["campaign", "sender-email"], EMAIL_TRANSPORT=transport, SMTP_HOST="127.0.0.1",
                  SMTP_PORT=str(smtp_port), SMTP_CONNECTIONS=str(connections)) as (stores, database, start):
        publish_all(stores, rendered_emails(count), batched)  # as the renderer packs them
        system = start()
        label = f"sender-email ({transport}{f', {connections} connections' if transport == 'smtp' else ''})"
        return wait_for(label, system, database, "SELECT count(*) FROM email_deliveries", count)


def stats_stage(count: int) -> StageResult:
    with isolated(["campaign", "stats"]) as (stores, database, start):
        campaign_id, job_id = seed_campaign(database, 0, "SENT")
        publish_all(stores, delivery_events(campaign_id, job_id, count))
        system = start()
        result = wait_for("stats", system, database, "SELECT coalesce(sum(sent), 0) FROM campaign_counters", count)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # a check, not timed: the job must end LOGGED through campaign
            with database.engine.connect() as connection:
                if connection.scalar(text(f"SELECT status FROM jobs WHERE id = {job_id}")) == "LOGGED":
                    break
            time.sleep(POLL_SECONDS)
        else:
            print("stats: warning, the job was not marked LOGGED", flush=True)
        return result


def report(results: list[StageResult], bare: float, bare_count: int) -> str:
    lines = ["| stage | messages | seconds | rate (msg/s) | ratio to bare smtplib | CPU of its processes |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for r in results:
        cpu = ", ".join(f"{name} {share:.0%}" for name, share in r.cpu.items())
        lines.append(f"| {r.stage} | {r.messages:,} | {r.seconds:.1f} | **{r.rate:,.0f}** | {r.rate / bare:.2f} "
                     f"| {cpu} |")
    lines.append(f"| bare smtplib loop, one connection, same sink | {bare_count:,} | {bare_count / bare:.1f} "
                 f"| **{bare:,.0f}** | 1.00 | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--bare", type=int, default=20_000, help="messages in the bare smtplib loop")
    parser.add_argument("--smtp-connections", type=int, default=4)
    stages = ("renderer", "sender-smtp", "sender-outbox", "stats")
    parser.add_argument("--stage", action="append", choices=stages, help="run only these (repeatable)")
    args = parser.parse_args()
    chosen = args.stage or list(stages)
    facts = run_facts()

    sink, sink_port = start_sink()
    try:
        bare = bare_smtplib_rate(sink_port, args.bare)
        print(f"bare smtplib loop to smtp-sink: {bare:,.0f} msg/s", flush=True)
        run: dict[str, Callable[[], StageResult]] = {
            "renderer": lambda: renderer_stage(args.messages),
            "sender-smtp": lambda: sender_stage(args.messages, "smtp", sink_port, args.smtp_connections),
            "sender-outbox": lambda: sender_stage(args.messages, "outbox", sink_port, args.smtp_connections),
            "stats": lambda: stats_stage(args.messages),
        }
        results = [run[name]() for name in stages if name in chosen]
    finally:
        sink.terminate()
    table = report(results, bare, args.bare)
    print("\n" + table)
    write_results("stages", facts, {
        "benchmark": "stages", "parameters": {"messages": args.messages, "bare": args.bare,
                                              "smtp_connections": args.smtp_connections, "stages": chosen},
        "bare_smtplib": {"messages": args.bare, "messages_per_second": round(bare, 1)},
        "stages": [{"stage": r.stage, "messages": r.messages, "seconds": round(r.seconds, 3),
                    "messages_per_second": round(r.rate, 1), "rate_vs_bare_loop": round(r.rate / bare, 3),
                    "cpu_share_of_one_core": {name: round(share, 3) for name, share in r.cpu.items()}}
                   for r in results],
    }, f"Each stage alone, {args.messages:,} messages, on {os.cpu_count()} cores "
       "(rates from the first progress seen to the end; CPU as a share of one core).\n\n" + table)


if __name__ == "__main__":
    main()

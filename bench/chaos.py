r"""Faults at scale (issue 15): an email, an SMS and a Telegram campaign sent at the same time through every service,
as separate processes, while services are SIGKILLed and the broker's and the database's connections are cut; then,
once the faults stop and the system recovers, every recipient must have an outcome: reached at the provider, or
recorded as failed. A recipient with neither is lost.

    make chaos            # or: .venv/bin/python bench/chaos.py --email 20000 --sms 3000 --telegram 3000 --seconds 90

Not part of ``make test``: it takes minutes and its figures (duplicates, recovery times) vary with the machine.

The providers are the local fakes (tests/fakes/): an SMTP server that counts each message by recipient, FakeTwilio
and FakeTelegram, which record every request. A supervisor thread restarts any service process that died (SIGKILLed,
or exited on its own) after ``--restart-delay`` seconds, as Kubernetes would. The chaos thread follows a schedule
drawn from ``--seed`` (bench/chaos_accounting.py): every 4 to 8 s one of

* SIGKILL of one of the 8 service processes, at random;
* the broker: every connection of the run's vhost closed (``rabbitmqctl close_all_connections -p <vhost>``), or,
  with ``--rabbitmq-restart``, ``rabbitmqctl stop_app && rabbitmqctl start_app`` (every vhost on the machine: other
  runs on the same broker fail);
* the database: every backend of the run's database terminated (``pg_terminate_backend``), or, with
  ``--pg-restart``, the whole cluster restarted (every database on the machine).

The restarts can be kept off the machine's own stores: a second RabbitMQ node and PostgreSQL cluster, named by the
environment the tests read (``TEST_AMQP_SERVER``, ``TEST_RABBITMQ_MANAGEMENT_URL``, ``TEST_PG_SERVER``) plus
``RABBITMQ_NODENAME`` for rabbitmqctl and ``--pg-cluster`` for pg_ctlcluster, e.g.::

    RABBITMQ_NODENAME=chaos@localhost TEST_AMQP_SERVER=amqp://guest:guest@127.0.0.1:5673 \
    TEST_RABBITMQ_MANAGEMENT_URL=http://guest:guest@127.0.0.1:15673 \
    TEST_PG_SERVER=postgresql://postgres@127.0.0.1:5433 \
    .venv/bin/python bench/chaos.py --rabbitmq-restart --pg-restart --pg-cluster chaos

The report (stdout, bench/out/chaos.md, bench/out/chaos.json) gives the faults with their times, and per campaign the
recipients, the messages the provider received, the distinct recipients reached, the lost ones, the duplicates
(messages beyond the first per recipient), the time from the last fault to the campaign's finish, and the final
stats; with each service's restarts and its log's error lines. Exit 1 if anything was lost (or a campaign did not
finish), else 0. The run's logs are kept (and their directory printed) when something was lost, or with --keep.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

from bench import chaos_accounting  # noqa: E402
from bench.chaos_accounting import BROKER, KILL, Accounting, Fault  # noqa: E402
from bench.results import run_facts, write_results  # noqa: E402
from postman_auth import agencies, api_keys  # noqa: E402
from postman_sender_telegram.subscribers import SubscriberStore  # noqa: E402
from postman_shared.credentials import new_master_key  # noqa: E402
from postman_shared.db import Database  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.fakes.twilio import FakeTwilio  # noqa: E402
from tests.support.api_client import PostmanApi  # noqa: E402
from tests.support.processes import SERVICES, RunningSystem, start_service, start_system, stop_system  # noqa: E402
from tests.support.stores import PG_SERVER, Stores, create_stores, drop_stores, free_port  # noqa: E402

TWILIO_KEY, TWILIO_SECRET = "SK" + secrets.token_hex(16), secrets.token_hex(16)
TWILIO_ACCOUNT = {"twilio_account_sid": "AC" + secrets.token_hex(16), "twilio_api_key": TWILIO_KEY,
                  "twilio_api_secret": TWILIO_SECRET, "twilio_messaging_service_sid": "MG" + secrets.token_hex(16)}
SMS_TEST_NUMBER = "+6587654321"  # the credentials' test message: not a recipient of the campaign
BOT_TOKEN = f"{secrets.randbelow(10**9) + 10**9}:{secrets.token_urlsafe(26)[:35]}"
CHANNELS = ("email", "sms", "telegram")


def email_address(i: int) -> str:
    return f"resident{i}@example.gov.sg"


def sms_number(i: int) -> str:
    return f"+6591{i:06d}"


def telegram_number(i: int) -> str:
    return f"+6592{i:06d}"


def telegram_chat(i: int) -> int:
    return 8_000_000 + i


def recipient_of_chat(chat_id: int) -> str:
    """The subscriber's number of a chat (telegram_chat's inverse); any other chat by its id."""
    i = chat_id - 8_000_000
    return telegram_number(i) if 0 <= i < 1_000_000 else str(chat_id)


# --- the SMTP provider ---------------------------------------------------------------------------------------------

class _RecipientCounter:
    """aiosmtpd handler that accepts every message and counts it by recipient; unlike tests/fakes/smtp.py it keeps
    no message bodies (tens of thousands of themed emails would take hundreds of MB of the driver's memory)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's naming
        with self.lock:
            self.received.extend(rcpt.lower() for rcpt in envelope.rcpt_tos)
        return "250 2.0.0 Ok: queued"


class CountingSmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.handler = _RecipientCounter()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def received(self) -> list[str]:
        with self.handler.lock:
            return list(self.handler.received)

    def __enter__(self) -> CountingSmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


@dataclass
class Providers:
    smtp: CountingSmtpServer
    twilio: FakeTwilio
    telegram: FakeTelegram

    def received(self, channel: str) -> list[str]:
        """One entry per message accepted, naming its recipient as the recipient list does."""
        if channel == "email":
            return self.smtp.received()
        if channel == "sms":
            return [str(r.to) for r in self.twilio.sent]
        return [recipient_of_chat(int(c.params["chat_id"])) for c in self.telegram.sent]


# --- the campaigns ----------------------------------------------------------------------------------------------------

@dataclass
class Campaign:
    channel: str
    campaign_id: int
    recipients: list[str]
    rate: int | None = None
    finished_at: float | None = None  # seconds after the send when first seen with an outcome for everyone
    halted: str = ""
    last_stats: dict[str, Any] = field(default_factory=dict)
    poll_failures: int = 0


def csv_of(header: str, rows: list[str]) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def new_api(system: RunningSystem, stores: Stores) -> PostmanApi:
    database = Database(stores.database_url, pool_size=1)
    try:
        with database.unit_of_work() as session:
            agencies.add(session, "Ministry of Faults", "https://www.example.gov.sg/logo.png", ["agency.gov.sg"],
                         "chaos")
            key = api_keys.create_api_key(session, api_keys.get_or_create_user(session, "chaos@agency.gov.sg"),
                                          "chaos")
    finally:
        database.dispose()
    return PostmanApi(system.gateway_url, key)


def uploaded(api: PostmanApi, campaign_id: int, content: bytes, channel: str, count: int) -> None:
    api.upload(campaign_id, content, f"{channel}.csv", channel=channel)
    status = api.wait_for_upload(campaign_id, timeout=600, channel=channel)
    if status.get("csv_error") or status.get("num_recipients") != count:
        sys.exit(f"{channel} upload failed: {status}")


def email_campaign(api: PostmanApi, count: int) -> Campaign:
    recipients = [email_address(i) for i in range(count)]
    campaign_id = api.create_campaign("Chaos: email")
    api.set_template(campaign_id, "Your appointment, {{ name }}",
                     "<p>Dear {{ name }},</p><p>Your reference is <b>{{ ref }}</b>.</p>")
    uploaded(api, campaign_id, csv_of("recipient,name,ref", [f"{r},Resident {i},REF{i:08d}"
                                                              for i, r in enumerate(recipients)]), "email", count)
    return Campaign("email", campaign_id, recipients)


def sms_campaign(api: PostmanApi, count: int, rate: int) -> Campaign:
    recipients = [sms_number(i) for i in range(count)]
    campaign_id = api.create_campaign("Chaos: SMS", channel="SMS")
    api.call("PUT", f"/v1/campaign/{campaign_id}/sms/template", json={"body": "Dear {{ name }}, see you tomorrow."})
    uploaded(api, campaign_id, csv_of("recipient,name", [f"{r},Person {i}" for i, r in enumerate(recipients)]),
             "sms", count)
    api.call("POST", f"/v1/campaign/{campaign_id}/sms/new-credentials",
             json={**TWILIO_ACCOUNT, "recipient": SMS_TEST_NUMBER, "label": "chaos"})
    return Campaign("sms", campaign_id, recipients, rate)


def telegram_campaign(api: PostmanApi, stores: Stores, count: int, rate: int) -> Campaign:
    """The bot registered through the API (getMe, setWebhook at the fake); its subscribers written as the bot's
    webhook stores them when each person shares their contact (the way bench/telegram_rate.py does)."""
    recipients = [telegram_number(i) for i in range(count)]
    campaign_id = api.create_campaign("Chaos: Telegram", channel="TELEGRAM")
    base = f"/v1/campaign/{campaign_id}/telegram"
    api.call("PUT", f"{base}/template", json={"body": "<b>Dear {{ name }}</b>, see you at 9am."})
    api.call("POST", f"{base}/new-credentials", json={"telegram_bot_token": BOT_TOKEN, "label": "chaos-bot"})
    database = Database(stores.database_url, pool_size=1)
    try:
        subscribers = SubscriberStore(database)
        bot_id = int(BOT_TOKEN.split(":")[0])
        for i, number in enumerate(recipients):
            subscribers.subscribe(bot_id, telegram_chat(i), telegram_chat(i), number)
    finally:
        database.dispose()
    uploaded(api, campaign_id, csv_of("recipient,name", [f"{r},Person {i}" for i, r in enumerate(recipients)]),
             "telegram", count)
    return Campaign("telegram", campaign_id, recipients, rate)


def send(api: PostmanApi, campaign: Campaign) -> None:
    if campaign.channel == "email":
        api.send(campaign.campaign_id)
    else:
        api.send(campaign.campaign_id, channel=campaign.channel, rate=campaign.rate)


def finished(stats: dict[str, Any]) -> bool:
    """Every recipient has an outcome: the job is logged and nobody is left unsent."""
    return stats.get("status") == "LOGGED" and stats.get("unsent") == 0


# --- the faults -------------------------------------------------------------------------------------------------------

@dataclass
class Event:
    at: float  # seconds after the send
    what: str
    detail: str = ""


class Clock:
    def __init__(self) -> None:
        self.zero = time.monotonic()

    def now(self) -> float:
        return round(time.monotonic() - self.zero, 2)


class Supervisor(threading.Thread):
    """Restarts a service process that is no longer running, ``delay`` seconds after it was first seen dead."""

    def __init__(self, system: RunningSystem, clock: Clock, delay: float, lock: threading.Lock) -> None:
        super().__init__(name="chaos-supervisor", daemon=True)
        self.system, self.clock, self.delay, self.lock = system, clock, delay, lock
        self.stopping = threading.Event()
        self.killed: set[int] = set()  # pids the chaos thread SIGKILLed
        self.events: list[Event] = []
        self.unprovoked: Counter[str] = Counter()  # exits that were not a SIGKILL of ours

    def run(self) -> None:
        dead_since: dict[str, float] = {}
        while not self.stopping.wait(0.2):
            with self.lock:
                for name, process in list(self.system.processes.items()):
                    if process.poll() is None:
                        continue
                    if name not in dead_since:
                        dead_since[name] = time.monotonic()
                        if process.pid not in self.killed:
                            self.unprovoked[name] += 1
                            self.events.append(Event(self.clock.now(), f"{name} exited on its own",
                                                     f"pid {process.pid}, exit code {process.returncode}"))
                    elif time.monotonic() - dead_since[name] >= self.delay:
                        start_service(self.system, name)
                        del dead_since[name]
                        self.events.append(Event(self.clock.now(), f"{name} restarted",
                                                 f"pid {self.system.processes[name].pid}"))


class Chaos(threading.Thread):
    """Injects the scheduled faults, each at its time after the send."""

    def __init__(self, system: RunningSystem, stores: Stores, schedule: list[Fault], clock: Clock,
                 supervisor: Supervisor, lock: threading.Lock, args: argparse.Namespace) -> None:
        super().__init__(name="chaos", daemon=True)
        self.system, self.stores, self.schedule, self.clock = system, stores, schedule, clock
        self.supervisor, self.lock, self.args = supervisor, lock, args
        self.injected: list[Event] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        for fault in self.schedule:
            if self.stopping.wait(max(0.0, fault.at - self.clock.now())):
                return
            started = self.clock.now()
            try:
                detail = self.inject(fault)
            except Exception as exc:  # a fault that could not be injected is reported, not fatal
                detail = f"FAILED: {exc}"
            what = f"SIGKILL {fault.target}" if fault.kind == KILL else self.describe(fault.kind)
            self.injected.append(Event(started, what, detail))
            print(f"  t={started:6.1f}s  {what}: {detail}", flush=True)

    def describe(self, kind: str) -> str:
        if kind == BROKER:
            return "RabbitMQ restart (stop_app, start_app)" if self.args.rabbitmq_restart else \
                "RabbitMQ: every connection of the vhost closed"
        return "PostgreSQL cluster restart" if self.args.pg_restart else \
            "PostgreSQL: every backend of the database terminated"

    def inject(self, fault: Fault) -> str:
        if fault.kind == KILL:
            with self.lock:
                process = self.system.processes[fault.target]
                if process.poll() is not None:
                    return "already down (not yet restarted)"
                self.supervisor.killed.add(process.pid)
                process.send_signal(signal.SIGKILL)
            return f"pid {process.pid}"
        started = time.monotonic()
        if fault.kind == BROKER:
            if self.args.rabbitmq_restart:
                rabbitmqctl("stop_app")
                rabbitmqctl("start_app")
            else:
                rabbitmqctl("close_all_connections", "-p", self.stores.vhost, "chaos: make chaos")
            return f"took {time.monotonic() - started:.1f}s"
        if self.args.pg_restart:
            version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, self.args.pg_cluster, "restart"],
                           check=True, capture_output=True, timeout=120)
            return f"took {time.monotonic() - started:.1f}s"
        return f"{terminate_backends(self.stores)} backends terminated"


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


def terminate_backends(stores: Stores) -> int:
    """Every connection to the run's database, over an admin connection of its own; how many."""
    database = stores.database_url.rsplit("/", 1)[1]
    connection = psycopg2.connect(f"{PG_SERVER}/postgres", connect_timeout=10)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = %s AND pid <> pg_backend_pid()", (database,))
            row = cursor.fetchone()
    finally:
        connection.close()
    return int(row[0]) if row else 0


class Monitor(threading.Thread):
    """Polls each campaign's stats through the API (through every fault: a failed poll is counted, not fatal) and
    notes when each first has an outcome for every recipient."""

    def __init__(self, api: PostmanApi, campaigns: list[Campaign], clock: Clock) -> None:
        super().__init__(name="chaos-monitor", daemon=True)
        self.api, self.campaigns, self.clock = api, campaigns, clock
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            for campaign in self.campaigns:
                if campaign.finished_at is not None:
                    continue
                try:
                    stats = self.api.stats(campaign.campaign_id, campaign.channel)
                except Exception:
                    campaign.poll_failures += 1
                    continue
                campaign.last_stats = stats
                if stats.get("halted"):
                    campaign.halted = str(stats.get("halted"))
                if finished(stats):
                    campaign.finished_at = self.clock.now()
                    print(f"  t={campaign.finished_at:6.1f}s  {campaign.channel} campaign finished: "
                          f"{summary(stats)}", flush=True)

    def all_done(self) -> bool:
        """Every campaign finished, or was halted (it will not finish without an officer's retry)."""
        return all(c.finished_at is not None or c.halted for c in self.campaigns)


def summary(stats: dict[str, Any]) -> str:
    return ", ".join(f"{k} {stats.get(k)}" for k in ("status", "sent", "error", "invalid", "unsubscribed", "unsent"))


def retried(call: Any, attempts: int = 30, pause: float = 2.0) -> Any:
    """A call through the API after the run, while a service may still be coming back."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(pause)
    return None


# --- the report -------------------------------------------------------------------------------------------------------

def log_digest(system: RunningSystem, top: int = 5) -> dict[str, dict[str, Any]]:
    """Per service: how many error and warning lines (JSON lines) and tracebacks it logged, and its most frequent
    error and warning events."""
    digest: dict[str, dict[str, Any]] = {}
    for path in sorted(system.log_dir.glob("*.log")):
        levels: Counter[str] = Counter()
        events: Counter[str] = Counter()
        warnings: Counter[str] = Counter()
        for line in path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                if line.startswith("Traceback"):
                    levels["traceback"] += 1
                continue
            if not isinstance(entry, dict):
                continue
            level = str(entry.get("level", "")).lower()
            levels[level] += 1
            if level in ("error", "critical"):
                events[str(entry.get("event", ""))[:120]] += 1
            elif level == "warning":
                warnings[str(entry.get("event", ""))[:120]] += 1
        digest[path.stem] = {"errors": levels["error"] + levels["critical"], "warnings": levels["warning"],
                             "tracebacks": levels["traceback"], "top_errors": events.most_common(top),
                             "top_warnings": warnings.most_common(top)}
    return digest


def lost_lines(system: RunningSystem, campaign: Campaign, limit: int = 20) -> list[str]:
    """Error and warning lines of any service that name the campaign: where to start looking for a loss."""
    needle = f'"campaign_id": {campaign.campaign_id}'
    found: list[str] = []
    for path in sorted(system.log_dir.glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if needle in line and ('"level": "error"' in line or '"level": "warning"' in line):
                found.append(f"{path.stem}: {line[:400]}")
    return found[-limit:]


def campaign_figures(campaign: Campaign, accounting: Accounting, faults: list[Event]) -> dict[str, Any]:
    fault_times = [e.at for e in faults]
    recovery = chaos_accounting.recovery_seconds(fault_times, campaign.finished_at)
    during = sum(1 for at in fault_times if campaign.finished_at is None or at <= campaign.finished_at)
    return {"channel": campaign.channel, "campaign_id": campaign.campaign_id, "rate": campaign.rate,
            **asdict(accounting), "examples": list(accounting.examples), "duplicates": accounting.duplicates,
            "duplicate_share": round(accounting.duplicate_share, 5), "finished_after_send_s": campaign.finished_at,
            "recovery_s": None if recovery is None else round(recovery, 1), "faults_before_finish": during,
            "halted": campaign.halted, "stats_poll_failures": campaign.poll_failures,
            "final_stats": {k: campaign.last_stats.get(k) for k in
                            ("status", "sent", "error", "invalid", "unsubscribed", "unsent", "outcomes")}}


def markdown(facts: dict[str, Any], args: argparse.Namespace, faults: list[Event], restarts: list[Event],
             results: list[dict[str, Any]], digest: dict[str, dict[str, Any]]) -> str:
    def cell(value: Any) -> str:
        return "—" if value is None else (f"{value:,}" if isinstance(value, int) else str(value))

    lines = [f"Run {facts['date']}, commit {facts['commit']}, {facts['machine']['cores']} cores, seed {args.seed}, "
             f"faults for {args.seconds:g} s, restart delay {args.restart_delay:g} s, broker fault: "
             f"{'restart' if args.rabbitmq_restart else 'vhost connections closed'}, database fault: "
             f"{'cluster restart' if args.pg_restart else 'backends terminated'}.", "",
             "| measure | " + " | ".join(r["channel"] for r in results) + " |",
             "| --- |" + " ---: |" * len(results)]
    rows = [("recipients", "recipients"), ("send rate (/s)", "rate"), ("messages received by the provider", "messages"),
            ("distinct recipients reached", "reached"), ("failed (recorded error/invalid/unsubscribed)", "failed"),
            ("**lost**", "lost"), ("of the lost, recorded as sent", "lost_recorded_sent"),
            ("duplicates (messages beyond the first)", "duplicates"), ("other messages (test, notices)", "strangers"),
            ("finished, s after the send", "finished_after_send_s"),
            ("faults before it finished", "faults_before_finish"),
            ("recovery: last fault -> finished (s)", "recovery_s")]
    for label, key in rows:
        lines.append(f"| {label} | " + " | ".join(cell(r[key]) for r in results) + " |")
    lines.append("| duplicate share | " + " | ".join(f"{r['duplicate_share']:.2%}" for r in results) + " |")
    lines.append("| final stats | " + " | ".join(
        ", ".join(f"{k} {v}" for k, v in r["final_stats"].items() if k != "outcomes") for r in results) + " |")
    lines += ["", f"Faults injected ({len(faults)}):", "", "| t (s) | fault | detail |", "| ---: | --- | --- |"]
    lines += [f"| {e.at:.1f} | {e.what} | {e.detail} |" for e in faults]
    lines += ["", f"Supervisor ({len(restarts)} events):", "", "| t (s) | event | detail |", "| ---: | --- | --- |"]
    lines += [f"| {e.at:.1f} | {e.what} | {e.detail} |" for e in restarts]
    lines += ["", "Service logs (error and warning lines, their most frequent events):", ""]
    for name, d in digest.items():
        errors = "; ".join(f"{event} ×{n}" for event, n in d["top_errors"]) or "—"
        warned = "; ".join(f"{event} ×{n}" for event, n in d["top_warnings"]) or "—"
        lines.append(f"- {name}: {d['errors']} errors ({errors}), {d['warnings']} warnings ({warned}), "
                     f"{d['tracebacks']} tracebacks")
    return "\n".join(lines)


# --- the run ----------------------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--email", type=int, default=20_000, help="recipients of the email campaign")
    parser.add_argument("--sms", type=int, default=3_000, help="recipients of the SMS campaign")
    parser.add_argument("--telegram", type=int, default=3_000, help="recipients of the Telegram campaign")
    parser.add_argument("--sms-rate", type=int, default=60, help="SMS per second")
    parser.add_argument("--telegram-rate", type=int, default=60, help="Telegram messages per second")
    parser.add_argument("--seconds", type=float, default=90, help="how long faults are injected after the send")
    parser.add_argument("--seed", type=int, default=15, help="seed of the fault schedule")
    parser.add_argument("--restart-delay", type=float, default=2.0, help="seconds before a dead service restarts")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the campaigns after faults")
    parser.add_argument("--rabbitmq-restart", action="store_true",
                        help="restart the broker (stop_app, start_app) instead of closing the vhost's connections: "
                             "affects every vhost on the machine")
    parser.add_argument("--pg-restart", action="store_true",
                        help="restart the PostgreSQL cluster instead of terminating the database's backends: "
                             "affects every database on the machine")
    parser.add_argument("--pg-cluster", default="main",
                        help="the cluster --pg-restart restarts (pg_ctlcluster's name): one made for chaos (its server "
                             "given by TEST_PG_SERVER) keeps the faults away from the machine's other databases")
    parser.add_argument("--keep", action="store_true", help="keep the run's logs even when nothing was lost")
    parser.add_argument("--name", default="chaos", help="writes bench/out/<name>.md and bench/out/<name>.json")
    args = parser.parse_args()

    facts = run_facts()
    schedule = chaos_accounting.fault_schedule(args.seed, args.seconds, list(SERVICES))
    stores = create_stores()
    work = Path(tempfile.mkdtemp(prefix="postman-chaos-"))
    system: RunningSystem | None = None
    supervisor: Supervisor | None = None
    keep = args.keep
    try:
        with CountingSmtpServer() as smtp, \
                FakeTwilio(api_key=TWILIO_KEY, api_secret=TWILIO_SECRET) as twilio, \
                FakeTelegram(tokens={BOT_TOKEN}) as telegram:
            providers = Providers(smtp, twilio, telegram)
            system = start_system(stores, work, timeout=120, EMAIL_TRANSPORT="smtp", SMTP_HOST="127.0.0.1",
                                  SMTP_PORT=str(smtp.port), TWILIO_API_BASE=twilio.base_url,
                                  TELEGRAM_API_BASE=telegram.base_url, CREDENTIALS_KEY=new_master_key(),
                                  TELEGRAM_MAX_RATE=str(max(30, args.telegram_rate)))
            print(f"system up; logs in {system.log_dir}", flush=True)
            api = new_api(system, stores)
            campaigns = [email_campaign(api, args.email), sms_campaign(api, args.sms, args.sms_rate),
                         telegram_campaign(api, stores, args.telegram, args.telegram_rate)]
            print("campaigns ready: " + ", ".join(f"{c.channel} {len(c.recipients):,}" for c in campaigns), flush=True)

            lock = threading.Lock()
            for campaign in campaigns:
                send(api, campaign)
            clock = Clock()
            supervisor = Supervisor(system, clock, args.restart_delay, lock)
            chaos = Chaos(system, stores, schedule, clock, supervisor, lock, args)
            monitor = Monitor(api, campaigns, clock)
            print(f"sent; {len(schedule)} faults over {args.seconds:g} s (seed {args.seed})", flush=True)
            for thread in (supervisor, chaos, monitor):
                thread.start()
            chaos.join()
            faults_ended = clock.now()
            print(f"  t={faults_ended:6.1f}s  faults over; waiting for every campaign (up to {args.timeout:g} s)",
                  flush=True)
            deadline = time.monotonic() + args.timeout
            while not monitor.all_done() and time.monotonic() < deadline:
                time.sleep(1.0)
            monitor.stopping.set()
            monitor.join()
            time.sleep(3.0)  # a late duplicate arrives now, not after the count

            results = []
            for campaign in campaigns:
                campaign.last_stats = retried(lambda c=campaign: api.stats(c.campaign_id, c.channel))
                try:
                    rows = retried(lambda c=campaign: api.export(c.campaign_id, c.channel), attempts=5)
                    statuses = {str(row["recipient"]).lower() if campaign.channel == "email" else row["recipient"]:
                                row["status"] for row in rows}
                except Exception as exc:
                    print(f"export of the {campaign.channel} campaign failed ({exc}): judged by the stats",
                          flush=True)
                    statuses = None
                accounting = chaos_accounting.account(campaign.recipients, providers.received(campaign.channel),
                                     campaign.last_stats, statuses)
                results.append(campaign_figures(campaign, accounting, chaos.injected))
            supervisor.stopping.set()
            supervisor.join()
            restarts = list(supervisor.events)
            unprovoked = dict(supervisor.unprovoked)
            stop_system(system)
            digest = log_digest(system)
            troubled = [r for r in results if r["lost"] or r["finished_after_send_s"] is None]
            text = markdown(facts, args, chaos.injected, restarts, results, digest)
            if troubled:
                keep = True
                text += "\n\nLines of the service logs naming a troubled campaign (the last 20 each):\n"
                for r in troubled:
                    campaign = next(c for c in campaigns if c.campaign_id == r["campaign_id"])
                    text += f"\n{campaign.channel} campaign {campaign.campaign_id}, e.g. lost: {r['examples']}\n"
                    text += "\n".join(f"    {line}" for line in lost_lines(system, campaign)) + "\n"
            print("\n" + text)
            figures = {"benchmark": "chaos",
                       "parameters": {k: v for k, v in vars(args).items() if k not in ("name", "keep")},
                       "faults": [asdict(e) for e in chaos.injected], "supervisor": [asdict(e) for e in restarts],
                       "unprovoked_exits": unprovoked, "faults_ended_s": faults_ended, "campaigns": results,
                       "logs": digest, "log_dir": str(system.log_dir) if keep else None}
            path = write_results(args.name, facts, figures, text)
            print(f"\nwrote {path.with_suffix('.md').relative_to(ROOT)} and {path.relative_to(ROOT)}")
            if keep:
                print(f"logs kept in {system.log_dir}")
            return 1 if troubled else 0
    finally:
        if supervisor is not None:
            supervisor.stopping.set()
            supervisor.join()
        if system is not None:
            stop_system(system)
        drop_stores(stores)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

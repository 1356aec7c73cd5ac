"""Benchmark: does a bot's send rate hold at Telegram when two sender-telegram replicas share one schedule?

    .venv/bin/python bench/telegram_rate.py --messages 300 --rates 30 10

Starts a local fake Telegram (tests/fakes/telegram.py: the Bot API client talks to it over HTTP and it records when
each call arrived), campaign (for the sealed bot token) and TWO sender-telegram processes, all with ``REDIS_URL``
set, on fresh stores. The recipients have subscribed to the bot (rows in ``telegram_subscribers``). For each rate it
publishes ``--messages`` RenderedTelegram of a new campaign carrying that rate and waits for Telegram to have them
all. The measured rate is ``(n-1)/(last-first)`` over the arrival times at Telegram; the target is within 10 % of
the rate asked for (Telegram's limit, 30/s per bot, is the default and the most). Writes bench/out/telegram_rate.md.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pika  # noqa: E402

from bench.results import run_facts, write_results  # noqa: E402
from postman_campaign.models import Credential  # noqa: E402
from postman_sender_telegram.provider_credentials import plaintext_of  # noqa: E402
from postman_sender_telegram.subscribers import SubscriberStore  # noqa: E402
from postman_shared.broker import OutgoingMessage, Publisher  # noqa: E402
from postman_shared.broker.batches import batched  # noqa: E402
from postman_shared.broker.topology import TELEGRAM_SEND  # noqa: E402
from postman_shared.credentials import credential_aad, new_master_key, sealer_from_settings  # noqa: E402
from postman_shared.db import Database  # noqa: E402
from postman_shared.messages import RenderedTelegram  # noqa: E402
from postman_shared.settings import Settings  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.support.processes import SERVICES, RunningSystem, start_services, stop_system  # noqa: E402
from tests.support.stores import Stores, create_stores, drop_stores, free_port  # noqa: E402

REPLICAS = 2
TOLERANCE = 0.10
USER_ID = 1


def number(n: int) -> str:
    return f"+6591{n:06d}"


def store_bot(stores: Stores, master_key: str, token: str, recipients: int) -> int:
    """The bot sealed into campaign's table as AddBot stores it, and ``recipients`` numbers subscribed to it."""
    settings = replace(Settings.from_env({}), credentials_key=master_key)
    sealer = sealer_from_settings(settings)
    database = Database(stores.database_url, pool_size=1)
    try:
        with database.unit_of_work() as session:
            row = Credential(user_id=USER_ID, channel="TELEGRAM", label="bench", key_id=sealer.key_id,
                             description="@bench_bot",
                             sealed=sealer.seal(plaintext_of(token), credential_aad(USER_ID, "TELEGRAM")))
            session.add(row)
            session.flush()
            credential_id = row.id
        subscribers = SubscriberStore(database)
        bot_id = int(token.split(":")[0])
        for n in range(recipients):
            subscribers.subscribe(bot_id, 8_000_000 + n, 8_000_000 + n, number(n))
        return credential_id
    finally:
        database.dispose()


def start_replica(system: RunningSystem, replica: str) -> None:
    """Another sender-telegram process; its gRPC server on a port of its own (the first one holds the address's)."""
    key = f"sender-telegram-{replica}"
    log = (system.log_dir / f"{key}.log").open("ab")
    env = dict(system.env, GRPC_PORT=str(free_port()))
    system.processes[key] = subprocess.Popen([sys.executable, "-m", SERVICES["sender-telegram"]], env=env,
                                             stdout=log, stderr=subprocess.STDOUT)


def wait_for_consumers(stores: Stores, count: int, system: RunningSystem, timeout: float = 60.0) -> None:
    """Until ``count`` consumers are attached to telegram.send (every replica ready before anything is published)."""
    deadline = time.monotonic() + timeout
    connection = pika.BlockingConnection(pika.URLParameters(stores.amqp_url))
    try:
        channel = connection.channel()
        while channel.queue_declare(TELEGRAM_SEND, passive=True).method.consumer_count < count:
            for name, process in system.processes.items():
                if process.poll() is not None:
                    sys.exit(f"{name} exited with {process.returncode}\n{system.logs(name)}")
            if time.monotonic() > deadline:
                sys.exit(f"sender-telegram replicas not consuming after {timeout:g} s")
            time.sleep(0.2)
    finally:
        connection.close()


def run_campaign(stores: Stores, telegram: FakeTelegram, credential_id: int, count: int,
                 rate: int) -> dict[str, float]:
    """Publishes one campaign of ``count`` messages at ``rate``/s and measures their arrivals at Telegram."""
    campaign_id = secrets.randbelow(10**9) + 1
    with telegram.lock:
        already = len(telegram.calls)
    messages = [RenderedTelegram(recipient_id=campaign_id * 1000 + n, campaign_id=campaign_id, job_id=campaign_id,
                                 user_id=USER_ID, to=number(n), body=f"<b>Bench</b> message {n} of {campaign_id}",
                                 credential_id=credential_id, rate=rate) for n in range(count)]
    publisher = Publisher(stores.amqp_url, app_id="bench")
    try:
        publisher.publish(batched([OutgoingMessage(TELEGRAM_SEND, m.to_dict(), m.message_id) for m in messages]))
    finally:
        publisher.close()
    deadline = time.monotonic() + 60 + 3 * count / rate
    while True:
        with telegram.lock:
            calls = telegram.calls[already:]
        if len([c for c in calls if c.answered == 200]) >= count:
            break
        if time.monotonic() > deadline:
            sys.exit(f"only {len(calls)} of {count} messages reached Telegram")
        time.sleep(0.2)
    time.sleep(1.0)  # anything sent twice would arrive now
    with telegram.lock:
        calls = [c for c in telegram.calls[already:] if c.method == "sendMessage"]
    arrivals = sorted(c.received_at for c in calls)
    span = arrivals[-1] - arrivals[0]
    measured = (len(arrivals) - 1) / span
    # The busiest second: Telegram counts per second, so no window of 1 s may hold more than the rate (+1 at edges).
    busiest = max(sum(1 for t in arrivals[i:] if t < start + 1.0) for i, start in enumerate(arrivals))
    return {"rate": rate, "messages": len(calls), "distinct": len({c.params["chat_id"] for c in calls}),
            "span": span, "measured": measured, "deviation": measured / rate - 1, "busiest": busiest}


def replica_batches(system: RunningSystem) -> dict[str, int]:
    """How many "batch delivered" lines each replica logged (evidence that both took part)."""
    return {name: (system.log_dir / f"{name}.log").read_text(errors="replace").count("batch delivered")
            for name in system.processes if name.startswith("sender-telegram")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rates", type=int, nargs="+", default=[30, 10])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    facts = run_facts()

    stores = create_stores()
    work = Path(tempfile.mkdtemp(prefix="postman-telegram-rate-"))
    master_key = new_master_key()
    token = f"{secrets.randbelow(10**9) + 10**9}:{secrets.token_urlsafe(26)[:35]}"
    system: RunningSystem | None = None
    results = []
    try:
        credential_id = store_bot(stores, master_key, token, args.messages)
        with FakeTelegram(tokens={token}) as telegram:
            # Small batches and prefetch, so both replicas hold messages of the campaign at once.
            system = start_services(stores, work, ["campaign", "sender-telegram"], REDIS_URL=args.redis_url,
                                    CREDENTIALS_KEY=master_key, TELEGRAM_API_BASE=telegram.base_url,
                                    SENDER_BATCH_SIZE="10", SENDER_PREFETCH="20")
            for replica in range(2, REPLICAS + 1):
                start_replica(system, str(replica))
            wait_for_consumers(stores, REPLICAS, system)
            for rate in args.rates:
                result = run_campaign(stores, telegram, credential_id, args.messages, rate)
                results.append(result)
                print(f"rate {rate}/s: {result['messages']} calls ({result['distinct']} distinct chats) in "
                      f"{result['span']:.2f} s = {result['measured']:.2f}/s, deviation {result['deviation']:+.1%}, "
                      f"busiest second {result['busiest']}", flush=True)
            batches = replica_batches(system)
    finally:
        if system is not None:
            stop_system(system)
        drop_stores(stores)
        shutil.rmtree(work, ignore_errors=True)

    lines = ["| rate asked | messages | sendMessage calls (distinct chats) | first → last | measured rate | deviation "
             "| busiest 1 s window |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['rate']}/s | {args.messages} | {r['messages']} ({r['distinct']}) | {r['span']:.2f} s | "
              f"{r['measured']:.2f}/s | {r['deviation']:+.1%} | {r['busiest']} |" for r in results]
    lines.append("")
    lines.append("batches delivered per replica: " + ", ".join(f"{k} {v}" for k, v in sorted(batches.items())))
    write_results("telegram_rate", facts, {"benchmark": "telegram_rate", "parameters": {"messages": args.messages},
                                           "campaigns": results, "batches_per_replica": batches}, "\n".join(lines))
    print("\n".join(lines))
    worst = max(abs(r["deviation"]) for r in results)
    print(f"worst deviation {worst:.1%} (target within {TOLERANCE:.0%})")


if __name__ == "__main__":
    main()

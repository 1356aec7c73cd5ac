"""Benchmark: does a campaign's SMS send rate hold at Twilio when two sender-sms replicas share one schedule?

    .venv/bin/python bench/sms_rate.py --messages 300 --rates 20 30

Starts a local fake Twilio (tests/fakes/twilio.py, the official client talks to it over HTTP and it records when
each request arrived), campaign (for the sealed credential) and TWO sender-sms processes, all with ``REDIS_URL``
set, on fresh stores. For each rate it publishes ``--messages`` RenderedSms of a new campaign carrying that rate
and waits for Twilio to have them all. The measured rate is ``(n-1)/(last-first)`` over the arrival times at
Twilio; the target is within 10 % of the campaign's rate. Writes the table to bench/out/sms_rate.md.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
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
from postman_shared.broker import OutgoingMessage, Publisher  # noqa: E402
from postman_shared.broker.batches import batched  # noqa: E402
from postman_shared.broker.topology import SMS_SEND  # noqa: E402
from postman_shared.credentials import credential_aad, new_master_key, sealer_from_settings  # noqa: E402
from postman_shared.db import Database  # noqa: E402
from postman_shared.messages import RenderedSms  # noqa: E402
from postman_shared.settings import Settings  # noqa: E402
from tests.fakes.twilio import FakeTwilio  # noqa: E402
from tests.support.processes import RunningSystem, start_service, start_services, stop_system  # noqa: E402
from tests.support.stores import Stores, create_stores, drop_stores  # noqa: E402

REPLICAS = 2
TOLERANCE = 0.10


def store_twilio_credential(stores: Stores, master_key: str) -> tuple[int, int, dict[str, str]]:
    """A Twilio credential sealed into campaign's table as campaign stores it: (credential id, user id, fields)."""
    settings = replace(Settings.from_env({}), credentials_key=master_key)
    sealer = sealer_from_settings(settings)
    user_id = 1
    fields = {"account_sid": "AC" + secrets.token_hex(16), "api_key": "SK" + secrets.token_hex(16),
              "api_secret": secrets.token_hex(16), "messaging_service_sid": "MG" + secrets.token_hex(16)}
    database = Database(stores.database_url, pool_size=1)
    try:
        with database.unit_of_work() as session:
            row = Credential(user_id=user_id, channel="SMS", label="bench", key_id=sealer.key_id,
                             sealed=sealer.seal(json.dumps(fields).encode(), credential_aad(user_id, "SMS")))
            session.add(row)
            session.flush()
            return row.id, user_id, fields
    finally:
        database.dispose()


def wait_for_consumers(stores: Stores, count: int, system: RunningSystem, timeout: float = 60.0) -> None:
    """Until ``count`` consumers are attached to sms.send (both replicas ready before anything is published)."""
    deadline = time.monotonic() + timeout
    connection = pika.BlockingConnection(pika.URLParameters(stores.amqp_url))
    try:
        channel = connection.channel()
        while channel.queue_declare(SMS_SEND, passive=True).method.consumer_count < count:
            for name, process in system.processes.items():
                if process.poll() is not None:
                    sys.exit(f"{name} exited with {process.returncode}\n{system.logs(name)}")
            if time.monotonic() > deadline:
                sys.exit(f"sender-sms replicas not consuming after {timeout:g} s")
            time.sleep(0.2)
    finally:
        connection.close()


def run_campaign(stores: Stores, twilio: FakeTwilio, credential_id: int, user_id: int, count: int,
                 rate: int) -> dict[str, float]:
    """Publishes one campaign of ``count`` SMS at ``rate``/s and measures their arrivals at Twilio."""
    campaign_id = secrets.randbelow(10**9) + 1
    already = len(twilio.received)
    messages = [RenderedSms(recipient_id=campaign_id * 1000 + n, campaign_id=campaign_id, job_id=campaign_id,
                            user_id=user_id, to=f"+6591{n:06d}", body=f"Bench message {n} of campaign {campaign_id}",
                            credential_id=credential_id, rate=rate) for n in range(count)]
    publisher = Publisher(stores.amqp_url, app_id="bench")
    try:
        publisher.publish(batched([OutgoingMessage(SMS_SEND, m.to_dict(), m.message_id) for m in messages]))
    finally:
        publisher.close()
    deadline = time.monotonic() + 60 + 3 * count / rate
    while True:
        with twilio.lock:
            received = twilio.received[already:]
        if len([r for r in received if r.answered == 201]) >= count:
            break
        if time.monotonic() > deadline:
            sys.exit(f"only {len(received)} of {count} messages reached Twilio")
        time.sleep(0.2)
    time.sleep(1.0)  # anything sent twice would arrive now
    with twilio.lock:
        received = twilio.received[already:]
    arrivals = sorted(r.received_at for r in received)
    span = arrivals[-1] - arrivals[0]
    measured = (len(arrivals) - 1) / span
    return {"rate": rate, "messages": len(received), "distinct": len({r.to for r in received}), "span": span,
            "measured": measured, "deviation": measured / rate - 1}


def replica_batches(system: RunningSystem) -> dict[str, int]:
    """How many "batch delivered" lines each replica logged (evidence that both took part)."""
    return {name: (system.log_dir / f"{name}.log").read_text(errors="replace").count("batch delivered")
            for name in system.processes if name.startswith("sender-sms")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rates", type=int, nargs="+", default=[20, 30])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    facts = run_facts()

    stores = create_stores()
    work = Path(tempfile.mkdtemp(prefix="postman-sms-rate-"))
    master_key = new_master_key()
    system: RunningSystem | None = None
    results = []
    try:
        credential_id, user_id, fields = store_twilio_credential(stores, master_key)
        with FakeTwilio(api_key=fields["api_key"], api_secret=fields["api_secret"]) as twilio:
            # Small batches and prefetch, so both replicas hold messages of the campaign at once.
            system = start_services(stores, work, ["campaign", "sender-sms"], REDIS_URL=args.redis_url,
                                    CREDENTIALS_KEY=master_key, TWILIO_API_BASE=twilio.base_url,
                                    SENDER_BATCH_SIZE="10", SENDER_PREFETCH="20")
            for replica in range(2, REPLICAS + 1):
                start_service(system, "sender-sms", replica=str(replica))
            wait_for_consumers(stores, REPLICAS, system)
            for rate in args.rates:
                result = run_campaign(stores, twilio, credential_id, user_id, args.messages, rate)
                results.append(result)
                print(f"rate {rate}/s: {result['messages']} requests ({result['distinct']} distinct) in "
                      f"{result['span']:.2f} s = {result['measured']:.2f}/s, deviation {result['deviation']:+.1%}",
                      flush=True)
            batches = replica_batches(system)
    finally:
        if system is not None:
            stop_system(system)
        drop_stores(stores)
        shutil.rmtree(work, ignore_errors=True)

    lines = ["| campaign rate | messages | requests at Twilio (distinct) | first → last | measured rate | deviation |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['rate']}/s | {args.messages} | {r['messages']} ({r['distinct']}) | {r['span']:.2f} s | "
              f"{r['measured']:.2f}/s | {r['deviation']:+.1%} |" for r in results]
    lines.append("")
    lines.append("batches delivered per replica: " + ", ".join(f"{k} {v}" for k, v in sorted(batches.items())))
    write_results("sms_rate", facts, {"benchmark": "sms_rate", "parameters": {"messages": args.messages},
                                      "campaigns": results, "batches_per_replica": batches}, "\n".join(lines))
    print("\n".join(lines))
    worst = max(abs(r["deviation"]) for r in results)
    print(f"worst deviation {worst:.1%} (target within {TOLERANCE:.0%})")


if __name__ == "__main__":
    main()

"""Benchmark: do the officers' pages load in under 200 ms with 1,000 campaigns in the list?

    .venv/bin/python bench/web_pages.py                 # or: --campaigns 1000 --requests 40

Every service runs as its own process (as `make run` starts them), with the default outbox email transport. The
driver signs in through the pages as a newcomer does (the email form, the password read from the outbox page, the
password form), creates ``--campaigns`` campaigns for that officer through campaign's gRPC ``CreateCampaign``
(a third each of email, SMS and Telegram), then marks half of them sent (a SENT job and stats counters, written
straight into the tables, as a send would leave them) so the list shows a mix of statuses and its counters call has
work to do. It then times ``--requests`` GETs of each page variant over HTTP against the real gateway (a warm-up
request first), from the request leaving the driver to the whole body received, and reports p50/p95/max.

Every list page costs the same three calls whatever its size (ResolveSession, ListCampaigns, GetCampaignCounters):
the 25-per-page and the last-page rows show that a bigger page or a deeper offset does not multiply them.
Writes the table to bench/out/web_pages.md. About a minute on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from sqlalchemy import insert, select, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import run_facts, write_results  # noqa: E402
from postman.v1 import campaign_pb2, campaign_pb2_grpc  # noqa: E402
from postman_campaign.models import Campaign, Job  # noqa: E402
from postman_shared.db import Database  # noqa: E402
from postman_shared.grpc import client  # noqa: E402
from postman_stats.models import CampaignCounter  # noqa: E402
from tests.support import service_identity  # noqa: E402
from tests.support.processes import start_system, stop_system  # noqa: E402
from tests.support.stores import create_stores, drop_stores  # noqa: E402

EMAIL = "bench.officer@agency.gov.sg"
CHANNELS = ("EMAIL", "SMS", "TELEGRAM")
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf(page: requests.Response) -> str:
    found = _CSRF.search(page.text)
    if not found:
        sys.exit(f"no CSRF token on {page.url}: {page.status_code} {page.text[:500]}")
    return found.group(1)


def sign_in(base: str) -> requests.Session:
    """The newcomer's way in: the email form, the password from the outbox page, the password form."""
    browser = requests.Session()
    asked = browser.post(f"{base}/sign-in", data={"csrf_token": csrf(browser.get(f"{base}/sign-in")),
                                                  "email": EMAIL}, allow_redirects=False)
    if asked.status_code != 303:
        sys.exit(f"sign-in refused: {asked.status_code} {asked.text[:500]}")
    password_page = browser.get(base + asked.headers["Location"])
    deadline = time.monotonic() + 30
    while True:
        latest = browser.get(f"{base}/outbox/latest", params={"to": EMAIL})
        found = re.search(r"Your one-time password for Postman is:</p><p>([^<]{6})</p>", latest.text)
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if not found:
        sys.exit(f"no password email in the outbox: {latest.status_code}")
    signed_in = browser.post(f"{base}/sign-in/password", allow_redirects=False, data={
        "csrf_token": csrf(password_page), "email": EMAIL, "password": found.group(1)})
    if signed_in.status_code != 303:
        sys.exit(f"password refused: {signed_in.status_code} {signed_in.text[:500]}")
    return browser


def create_campaigns(campaign_addr: str, database_url: str, user_id: int, count: int) -> None:
    stub = service_identity.stub(campaign_addr, campaign_pb2_grpc.CampaignServiceStub)
    for n in range(count):
        client.call(stub.CreateCampaign, campaign_pb2.CreateCampaignRequest(
            user_id=user_id, name=f"Bench campaign {n:04d}", type=CHANNELS[n % len(CHANNELS)]))
    database = Database(database_url, pool_size=1)
    try:
        with database.unit_of_work() as session:
            ids = session.scalars(select(Campaign.id).where(Campaign.user_id == user_id).order_by(Campaign.id)).all()
            sent = ids[::2]
            session.execute(insert(Job), [{"campaign_id": cid, "status": "SENT"} for cid in sent])
            session.execute(insert(CampaignCounter), [{"campaign_id": cid, "sent": 90, "error": 10} for cid in sent])
            session.execute(update(Campaign).where(Campaign.id.in_(sent)).values(num_recipients=100))
    finally:
        database.dispose()


def timed(browser: requests.Session, url: str, requests_: int) -> dict[str, float]:
    warm = browser.get(url)
    if warm.status_code != 200:
        sys.exit(f"{url}: {warm.status_code} {warm.text[:500]}")
    times = []
    for _ in range(requests_):
        started = time.perf_counter()
        response = browser.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            sys.exit(f"{url}: {response.status_code}")
    times.sort()
    return {"p50": statistics.median(times), "p95": times[max(0, round(len(times) * 0.95) - 1)], "max": times[-1],
            "n": len(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page")
    args = parser.parse_args()

    stores = create_stores()
    work = Path(tempfile.mkdtemp(prefix="bench-web-"))
    system = None
    try:
        system = start_system(stores, work)
        base = system.gateway_url
        browser = sign_in(base)
        user_id = browser.get(f"{base}/v1/auth/userinfo").json()["id"]
        started = time.perf_counter()
        create_campaigns(system.env["CAMPAIGN_ADDR"], stores.database_url, user_id, args.campaigns)
        print(f"{args.campaigns:,} campaigns created in {time.perf_counter() - started:.1f} s", flush=True)

        last10 = -(-args.campaigns // 10)
        pages = [
            ("campaign list, first page (10)", "/campaigns"),
            ("campaign list, first page (25)", "/campaigns?per_page=25"),
            (f"campaign list, last page ({last10})", f"/campaigns?page={last10}"),
            ("campaign list, SMS + Sent filter", "/campaigns?channel=SMS&status=Sent"),
            ("campaign list, search by name", "/campaigns?name=campaign+07"),
            ("settings", "/settings"),
            ("outbox", "/outbox"),
            ("sign-in page (signed out)", "/sign-in"),
        ]
        results = []
        for what, path in pages:
            session = requests.Session() if path == "/sign-in" else browser
            results.append((what, path, timed(session, base + path, args.requests)))
            print(f"{what}: p50 {results[-1][2]['p50']:.1f} ms", flush=True)
        report(args, results)
    finally:
        if system is not None:
            stop_system(system)
        drop_stores(stores)
        shutil.rmtree(work, ignore_errors=True)


def report(args: argparse.Namespace, results: list[tuple[str, str, dict[str, float]]]) -> None:
    lines = [
        f"{args.campaigns:,} campaigns of one officer (half sent); {args.requests} timed GETs per page after a "
        "warm-up, one at a time, over HTTP to the real gateway (every service a process).",
        "",
        "| page | address | p50 (ms) | p95 (ms) | max (ms) |",
        "| --- | --- | ---: | ---: | ---: |",
        *(f"| {what} | `{path}` | **{t['p50']:.1f}** | **{t['p95']:.1f}** | {t['max']:.1f} |"
          for what, path, t in results),
    ]
    text = "\n".join(lines)
    print("\n" + text)
    write_results("web_pages", run_facts(), {
        "benchmark": "web_pages", "parameters": {"campaigns": args.campaigns, "requests": args.requests},
        "pages": [{"page": what, "path": path, **{k: round(v, 2) for k, v in t.items()}} for what, path, t in results],
    }, text)


if __name__ == "__main__":
    main()

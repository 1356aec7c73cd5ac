"""``postmanctl purge`` and ``postmanctl erase-recipient``: the retention purge once (or what it would remove), and
one person's data removed everywhere it lives (docs/data-protection.md).

Both work on the database directly, as the campaign service's purge loop does (``postman_campaign.operator``), so
they answer when the services are down too; the purge takes the same row locks (``SKIP LOCKED``) and batches, so it
is safe while the services' own loops run. Each prints what it removed (or, with ``--dry-run``, would remove) as
``kind count`` lines, or one JSON object with ``--json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

from postman_campaign import operator as campaign
from postman_shared.db import Database
from postman_shared.logging import configure_logging
from postman_shared.settings import Settings

# An operator waiting at the terminal: faster than the loop's 10%, still resting as long as it works.
CLI_DUTY = 0.5


def add_parser(commands: Any) -> None:
    purge = commands.add_parser("purge", help="redact finished campaigns past CAMPAIGN_RETENTION_DAYS and delete "
                                              "transactional messages and audit events past their retention, once")
    purge.add_argument("--dry-run", action="store_true", help="only count what would be removed")
    purge.add_argument("--json", action="store_true", help="one JSON object")
    purge.set_defaults(run=run_purge)

    erase = commands.add_parser("erase-recipient", help="remove one person's data everywhere it lives (campaign "
                                                        "recipients and outcomes, transactional messages, Telegram "
                                                        "subscriptions); suppression entries are kept")
    erase.add_argument("recipient", metavar="ADDRESS|NUMBER",
                       help="an email address, or a phone number (without a country code: DEFAULT_PHONE_REGION)")
    erase.add_argument("--dry-run", action="store_true", help="only count what would be removed")
    erase.add_argument("--json", action="store_true", help="one JSON object")
    erase.set_defaults(run=run_erase)


@contextlib.contextmanager
def _logs_on_stderr(settings: Settings) -> Iterator[None]:
    """The purge's log lines go to stderr: stdout is the report (``--json`` is read by tools)."""
    configure_logging("postmanctl", settings.log_level, settings.log_format)
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _print(report: campaign.PurgeReport, as_json: bool, dry_run: bool) -> None:
    counts = report.as_dict()
    if as_json:
        print(json.dumps({"dry_run": dry_run, **counts}, sort_keys=True))
        return
    for kind, count in counts.items():
        print(f"{kind} {count}")
    print(f"postmanctl: {'would remove' if dry_run else 'removed'} {report.total()} rows"
          f"{f', redacting {report.campaigns_redacted} campaigns' if report.campaigns_redacted else ''}",
          file=sys.stderr)


def run_purge(args: argparse.Namespace, settings: Settings) -> int:
    database = Database(settings.database_url, pool_size=1)
    try:
        with _logs_on_stderr(settings):
            if args.dry_run:
                report = campaign.purge_dry_run(database, settings)
            else:
                report = campaign.purge(database, settings, duty=CLI_DUTY)
        _print(report, args.json, args.dry_run)
    finally:
        database.dispose()
    return 0


def run_erase(args: argparse.Namespace, settings: Settings) -> int:
    recipient = campaign.normalise_recipient(args.recipient, settings.default_phone_region)
    database = Database(settings.database_url, pool_size=1)
    try:
        with _logs_on_stderr(settings):
            report = campaign.erase_recipient(database, recipient, dry_run=args.dry_run)
        _print(report, args.json, args.dry_run)
    finally:
        database.dispose()
    return 0

"""postmanctl rotate-credentials-key: re-wrap every stored credential under the current master key.

The credentials are campaign's (``postman_campaign.provider_credentials``); the rotation is its use case, reached
through ``postman_campaign.operator``. This module reads the keys from the settings and reports."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from postman_campaign import operator as campaign
from postman_shared.credentials import sealer_from_settings
from postman_shared.db import Database
from postman_shared.settings import Settings

BATCH_SIZE = campaign.ROTATION_BATCH_SIZE


def _run(args: argparse.Namespace, settings: Settings) -> int:
    sealer = sealer_from_settings(settings)
    database = Database(settings.database_url, pool_size=1)
    try:
        rotation = campaign.rotate_credentials_key(database, sealer, args.batch_size)
    finally:
        database.dispose()
    for credential_id, reason in rotation.unopenable:
        print(f"postmanctl: credential {credential_id} skipped: {reason}", file=sys.stderr)
    print(f"postmanctl: {rotation.rewrapped} credential(s) re-wrapped under master key {sealer.key_id}; "
          f"{rotation.remaining} remain under other keys", file=sys.stderr)
    if rotation.unopenable:
        print(f"postmanctl: {len(rotation.unopenable)} credential(s) could not be opened with any configured key; "
              "keep their key in CREDENTIALS_OLD_KEYS and run this again, or ask their owners to enter them again",
              file=sys.stderr)
        return 2
    if rotation.remaining:
        print("postmanctl: some credentials were locked by another transaction; run this again", file=sys.stderr)
    return 0


def _batch_size(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 10000:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 10000, got {text!r}")
    return int(text)


def add_parser(commands: Any) -> None:
    rotate_parser = commands.add_parser(
        "rotate-credentials-key",
        help="re-wrap stored provider credentials under CREDENTIALS_KEY (old keys in CREDENTIALS_OLD_KEYS)")
    rotate_parser.add_argument("--batch-size", type=_batch_size, default=BATCH_SIZE,
                               help=f"credentials per transaction (default {BATCH_SIZE})")
    rotate_parser.set_defaults(run=_run)

"""postmanctl rotate-credentials-key: re-wrap every stored credential under the current master key."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import LargeBinary, bindparam, column, func, select, table, update

from postman_shared.credentials import Sealer, SealError, credential_aad, sealer_from_settings
from postman_shared.db import Database
from postman_shared.settings import Settings
from postman_shared.timestamps import utcnow

BATCH_SIZE = 200

# The campaign service owns the table (postman_campaign.models.Credential); postmanctl runs in the auth image, which
# does not hold the campaign package, so it names only the columns rotation touches.
credentials = table("credentials", column("id"), column("user_id"), column("channel"),
                    column("sealed", LargeBinary), column("key_id"), column("updated_at"))


@dataclass
class Rotation:
    rewrapped: int = 0
    remaining: int = 0  # rows still wrapped by another key: unopenable ones and ones locked by someone else
    unopenable: list[tuple[int, str]] = field(default_factory=list)  # (credential id, reason)


def rotate(database: Database, sealer: Sealer, batch_size: int = BATCH_SIZE) -> Rotation:
    """Re-wraps, batch by batch (one transaction each), every credential not wrapped by the current master key.

    Rows locked by another transaction are skipped (SKIP LOCKED) and counted as remaining; running it again finishes
    them. A value no configured key opens is reported and left as it is.
    """
    rotation = Rotation()
    after_id = 0
    while True:
        with database.unit_of_work() as session:
            rows = session.execute(
                select(credentials.c.id, credentials.c.user_id, credentials.c.channel, credentials.c.sealed)
                .where(credentials.c.key_id != sealer.key_id, credentials.c.id > after_id)
                .order_by(credentials.c.id)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                break
            changes = []
            for row in rows:
                try:
                    sealed = sealer.rewrap(bytes(row.sealed), credential_aad(row.user_id, row.channel))
                except SealError as exc:
                    rotation.unopenable.append((row.id, str(exc)))
                    continue
                changes.append({"credential_id": row.id, "sealed": sealed})
            if changes:
                session.execute(
                    update(credentials).where(credentials.c.id == bindparam("credential_id"))
                    .values(sealed=bindparam("sealed"), key_id=sealer.key_id, updated_at=utcnow()),
                    changes)
            rotation.rewrapped += len(changes)
            after_id = rows[-1].id
    with database.session() as session:
        rotation.remaining = session.scalar(
            select(func.count()).select_from(credentials).where(credentials.c.key_id != sealer.key_id)) or 0
    return rotation


def _run(args: argparse.Namespace, settings: Settings) -> int:
    sealer = sealer_from_settings(settings)
    database = Database(settings.database_url, pool_size=1)
    try:
        rotation = rotate(database, sealer, args.batch_size)
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

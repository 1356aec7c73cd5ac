"""What an operator does to the campaign service with postmanctl: the one module of campaign that postmanctl imports.

These are the operator's jobs that must work while the services are down, so they run on the database directly,
through campaign's own use cases: the retention purge once (``retention``, the same batches and row locks as the
service's purge loop), one person's data erased, and the provider credentials re-wrapped under a new master key
(``provider_credentials.rotate``). Each takes the database and plain arguments and returns plain data. What the
running service must do itself (stop a user's campaigns, change the suppression list) postmanctl asks over gRPC.

To give postmanctl a new power over campaign's data, add a function here (and a command module in lib/postman_ctl).
"""

from __future__ import annotations

from postman_campaign import provider_credentials, retention
from postman_campaign.provider_credentials import ROTATION_BATCH_SIZE as ROTATION_BATCH_SIZE
from postman_campaign.provider_credentials import Rotation as Rotation
from postman_campaign.retention import PurgeReport as PurgeReport
from postman_campaign.retention import normalise_recipient as normalise_recipient
from postman_shared.credentials import Sealer
from postman_shared.db import Database
from postman_shared.settings import Settings


def purge(database: Database, settings: Settings, duty: float) -> PurgeReport:
    """One full purge with the retention settings, recorded in the audit trail as postmanctl's (``ip`` "cli"). It
    works only ``duty`` of the time, resting between its transactions so that the pipeline keeps the database."""
    return retention.purge(database, retention.Retention.from_settings(settings), ip=retention.CLI_IP,
                           pause=retention.LOOP_PAUSE_SECONDS, duty=duty)


def purge_dry_run(database: Database, settings: Settings) -> PurgeReport:
    """What ``purge`` would remove now, counted; nothing changes."""
    return retention.dry_run(database, retention.Retention.from_settings(settings))


def erase_recipient(database: Database, recipient: str, dry_run: bool = False) -> PurgeReport:
    """Removes (or, in a dry run, counts) one person's data; ``recipient`` as ``normalise_recipient`` gives it."""
    return retention.erase_recipient(database, recipient, dry_run=dry_run, ip=retention.CLI_IP)


def rotate_credentials_key(database: Database, sealer: Sealer, batch_size: int = ROTATION_BATCH_SIZE) -> Rotation:
    """Re-wraps every stored provider credential under ``sealer``'s current master key (``Rotation`` says what
    happened, including the credentials no configured key opens)."""
    return provider_credentials.rotate(database, sealer, batch_size)

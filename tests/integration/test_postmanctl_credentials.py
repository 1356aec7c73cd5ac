"""postmanctl rotate-credentials-key and the development key file of postmanctl setup.

postmanctl's real entry point runs in the test process (``tests/support/postmanctl.py``: its own environment, argv
and output, as in a process of its own), a second of imports cheaper per call than a subprocess.
``test_rotation_without_any_master_key_says_to_set_credentials_key`` runs it as a real subprocess (``python -m
postman_ctl.cli``): exit status 2 and no traceback from the command itself."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from postman_campaign.models import Credential
from postman_shared.credentials import LocalMasterKey, Sealer, credential_aad, local_key_id, new_master_key
from postman_shared.db import Database
from tests.support.postmanctl import as_subprocess, in_process
from tests.support.stores import Stores


def postmanctl(env: dict[str, str], *args: str, real_process: bool = False) -> subprocess.CompletedProcess[str]:
    if real_process:
        return as_subprocess(args, {"PATH": "/usr/bin:/bin", **env}, timeout=120)
    return in_process(args, {"PATH": "/usr/bin:/bin", **env})


def sealer_for(*keys: str) -> Sealer:
    current, *old = (LocalMasterKey(base64.b64decode(key)) for key in keys)
    return Sealer(current, old)


@pytest.fixture
def empty_credentials(database: Database) -> Iterator[Database]:
    # The command rotates the whole table, so this test owns it: rows other tests left would count too.
    with database.unit_of_work() as session:
        session.execute(delete(Credential))
    yield database
    with database.unit_of_work() as session:
        session.execute(delete(Credential))


def store(database: Database, sealer: Sealer, user_id: int, channel: str, secret: bytes) -> int:
    with database.unit_of_work() as session:
        row = Credential(user_id=user_id, channel=channel,
                         sealed=sealer.seal(secret, credential_aad(user_id, channel)), key_id=sealer.key_id)
        session.add(row)
        session.flush()
        return row.id


def stored(database: Database) -> dict[int, tuple[str, bytes]]:
    with database.session() as session:
        return {row.id: (row.key_id, row.sealed) for row in session.scalars(select(Credential))}


def open_all(database: Database, sealer: Sealer) -> dict[int, bytes]:
    with database.session() as session:
        return {row.id: sealer.open(row.sealed, credential_aad(row.user_id, row.channel))
                for row in session.scalars(select(Credential))}


def test_rotation_rewraps_every_credential_under_the_new_key_and_is_idempotent(stores: Stores, empty_credentials):
    database = empty_credentials
    old_key, new_key = new_master_key(), new_master_key()
    secrets_by_id = {store(database, sealer_for(old_key), user_id, channel, f"secret-{user_id}-{channel}".encode()):
                     f"secret-{user_id}-{channel}".encode()
                     for user_id in range(1, 6) for channel in ("SMS", "TELEGRAM")}
    env = {"DATABASE_URL": stores.database_url, "CREDENTIALS_KEY": new_key, "CREDENTIALS_OLD_KEYS": old_key}

    result = postmanctl(env, "rotate-credentials-key", "--batch-size", "3")
    assert result.returncode == 0, result.stderr
    assert "10 credential(s) re-wrapped" in result.stderr and "0 remain" in result.stderr
    assert old_key not in result.stderr + result.stdout and new_key not in result.stderr + result.stdout
    assert {key_id for key_id, _ in stored(database).values()} == {local_key_id(base64.b64decode(new_key))}
    assert open_all(database, sealer_for(new_key)) == secrets_by_id  # the old key is no longer needed

    before = stored(database)
    again = postmanctl(env, "rotate-credentials-key")
    assert again.returncode == 0 and "0 credential(s) re-wrapped" in again.stderr
    assert stored(database) == before


def test_a_credential_no_configured_key_opens_is_reported_and_skipped_with_exit_code_2(stores: Stores,
                                                                                       empty_credentials):
    database = empty_credentials
    old_key, new_key, lost_key = new_master_key(), new_master_key(), new_master_key()
    good = store(database, sealer_for(old_key), 7, "SMS", b"still here")
    lost = store(database, sealer_for(lost_key), 8, "SMS", b"nobody has this key")
    env = {"DATABASE_URL": stores.database_url, "CREDENTIALS_KEY": new_key, "CREDENTIALS_OLD_KEYS": old_key}

    result = postmanctl(env, "rotate-credentials-key")
    assert result.returncode == 2
    assert f"credential {lost} skipped" in result.stderr and local_key_id(base64.b64decode(lost_key)) in result.stderr
    assert "1 credential(s) re-wrapped" in result.stderr and "1 remain" in result.stderr
    rows = stored(database)
    assert rows[lost][0] == local_key_id(base64.b64decode(lost_key))
    assert sealer_for(new_key).open(rows[good][1], credential_aad(7, "SMS")) == b"still here"


def test_rotation_without_any_master_key_says_to_set_credentials_key(stores: Stores, tmp_path: Path):
    env = {"DATABASE_URL": stores.database_url, "CREDENTIALS_KEY_FILE": str(tmp_path / "missing.key")}
    result = postmanctl(env, "rotate-credentials-key", real_process=True)
    assert result.returncode == 2
    assert "set CREDENTIALS_KEY" in result.stderr and "Traceback" not in result.stderr


def test_setup_creates_a_private_development_key_file_once(stores: Stores, tmp_path: Path):
    key_file = tmp_path / "var" / "credentials.key"
    env = {"DATABASE_URL": stores.database_url, "AMQP_URL": stores.amqp_url, "CREDENTIALS_KEY_FILE": str(key_file),
           "UPLOAD_DIR": str(tmp_path / "uploads"), "OUTBOX_DIR": str(tmp_path / "outbox")}
    first = postmanctl(env, "setup")
    assert first.returncode == 0, first.stderr
    assert f"created the credentials master key {key_file}" in first.stderr
    assert os.stat(key_file).st_mode & 0o777 == 0o600
    key = key_file.read_text()
    assert len(base64.b64decode(key)) == 32

    second = postmanctl(env, "setup")
    assert second.returncode == 0 and "credentials master key" not in second.stderr
    assert key_file.read_text() == key

"""Provider credentials in the real `credentials` table, sealed by a local master key or by AWS KMS.

KMS is the real boto3 client against moto's KMS server speaking KMS's HTTP wire protocol in a separate process.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from dataclasses import replace

import boto3
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from postman_campaign.models import Credential
from postman_campaign.provider_credentials import rotate
from postman_shared.credentials import (
    LocalMasterKey,
    Sealer,
    SealError,
    credential_aad,
    key_id_of,
    sealer_from_settings,
)
from postman_shared.db import Database
from postman_shared.settings import Settings
from tests.support.aws import local_aws
from tests.support.stores import free_port

REGION = "ap-southeast-1"


def new_user_id() -> int:
    return secrets.randbelow(2**40) + 1_000_000


def store(database: Database, sealer: Sealer, user_id: int, channel: str, secret: bytes,
          label: str | None = None) -> int:
    with database.unit_of_work() as session:
        row = Credential(user_id=user_id, channel=channel, label=label,
                         sealed=sealer.seal(secret, credential_aad(user_id, channel)), key_id=sealer.key_id)
        session.add(row)
        session.flush()
        return row.id


def opened(database: Database, sealer: Sealer, credential_id: int) -> bytes:
    with database.session() as session:
        row = session.get_one(Credential, credential_id)
        return sealer.open(row.sealed, credential_aad(row.user_id, row.channel))


def table_bytes(database: Database, user_id: int) -> bytes:
    """Every column of the user's rows, as PostgreSQL prints them (bytea in hex), encoded."""
    with database.session() as session:
        rows = session.execute(text("SELECT c::text, encode(c.sealed, 'escape') FROM credentials c "
                                    "WHERE user_id = :user_id"), {"user_id": user_id}).all()
    return "\n".join(f"{whole}\n{escaped}" for whole, escaped in rows).encode()


def test_stored_credentials_open_for_their_owner_and_the_table_never_holds_the_secret(database):
    sealer = Sealer(LocalMasterKey(os.urandom(32)))
    user_id = new_user_id()
    secret = b"bot-token-" + secrets.token_hex(12).encode()
    credential_id = store(database, sealer, user_id, "TELEGRAM", secret, label="main bot")
    assert opened(database, sealer, credential_id) == secret
    stored = table_bytes(database, user_id)
    assert secret not in stored and secret.hex().encode() not in stored
    with database.session() as session:
        assert session.get_one(Credential, credential_id).key_id == sealer.key_id


def test_a_sealed_value_moved_to_another_users_row_does_not_open(database):
    sealer = Sealer(LocalMasterKey(os.urandom(32)))
    victim, thief = new_user_id(), new_user_id()
    victim_id = store(database, sealer, victim, "SMS", b"victim-twilio-secret")
    thief_id = store(database, sealer, thief, "SMS", b"thief-twilio-secret")
    with database.unit_of_work() as session:
        stolen = session.get_one(Credential, victim_id).sealed
        session.get_one(Credential, thief_id).sealed = stolen
    with pytest.raises(SealError):
        opened(database, sealer, thief_id)


def test_a_label_is_unique_per_user_and_channel_but_unlabelled_credentials_may_repeat(database):
    sealer = Sealer(LocalMasterKey(os.urandom(32)))
    user_id = new_user_id()
    store(database, sealer, user_id, "SMS", b"a")
    store(database, sealer, user_id, "SMS", b"b")
    store(database, sealer, user_id, "SMS", b"c", label="ops")
    store(database, sealer, user_id, "TELEGRAM", b"d", label="ops")
    with pytest.raises(IntegrityError, match="uq_credentials_user_id_channel_label"):
        store(database, sealer, user_id, "SMS", b"e", label="ops")
    with pytest.raises(IntegrityError, match="ck_credentials_channel"):
        store(database, sealer, user_id, "EMAIL", b"f")


# -- AWS KMS ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kms_server() -> Iterator[str]:
    with local_aws() as url:
        yield url


@pytest.fixture
def kms_settings(kms_server: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings naming a fresh KMS key on the local server, credentials in the standard AWS_* variables."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    client = boto3.client("kms", region_name=REGION, endpoint_url=kms_server)
    key_id = client.create_key(Description="postman credentials")["KeyMetadata"]["KeyId"]
    return replace(settings, credentials_kms_key_id=key_id, kms_region=REGION, kms_endpoint_url=kms_server,
                   credentials_key="", credentials_old_keys="")


def test_kms_wraps_data_keys_bound_to_their_owner(kms_settings, database):
    sealer = sealer_from_settings(kms_settings)
    assert sealer.key_id == f"kms:{kms_settings.credentials_kms_key_id}"
    user_id = new_user_id()
    credential_id = store(database, sealer, user_id, "SMS", b"twilio-secret-over-kms")
    assert opened(database, sealer, credential_id) == b"twilio-secret-over-kms"
    with database.session() as session:
        sealed = session.get_one(Credential, credential_id).sealed
    with pytest.raises(SealError, match="tampered with or belongs to another owner"):
        sealer.open(sealed, credential_aad(user_id + 1, "SMS"))


def test_a_kms_outage_is_a_clear_seal_error(kms_settings):
    unreachable = replace(kms_settings, kms_endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(SealError, match="AWS KMS could not wrap a data key"):
        sealer_from_settings(unreachable).seal(b"x", credential_aad(1, "SMS"))


def test_rotation_moves_credentials_from_a_local_key_to_kms(kms_settings, database):
    local_key = os.urandom(32)
    local = Sealer(LocalMasterKey(local_key))
    user_id = new_user_id()
    ids = [store(database, local, user_id, "TELEGRAM", f"token-{n}".encode(), label=f"bot {n}") for n in range(3)]
    moving = sealer_from_settings(replace(kms_settings, credentials_key=base64.b64encode(local_key).decode()))
    rotate(database, moving, batch_size=2)
    with database.session() as session:
        rows = session.scalars(select(Credential).where(Credential.id.in_(ids)).order_by(Credential.id)).all()
        assert {row.key_id for row in rows} == {key_id_of(row.sealed) for row in rows} == {moving.key_id}
    kms_only = sealer_from_settings(kms_settings)
    assert [opened(database, kms_only, credential_id) for credential_id in ids] == [b"token-0", b"token-1",
                                                                                       b"token-2"]

"""Envelope encryption of provider credentials: what opens, what does not, and what never shows."""

from __future__ import annotations

import base64
import os
from dataclasses import replace
from pathlib import Path

import pytest

from postman_shared.credentials import (
    LocalMasterKey,
    Sealer,
    SealError,
    create_key_file,
    credential_aad,
    key_id_of,
    local_key_id,
    sealer_from_settings,
)
from postman_shared.settings import Settings, SettingsError

SECRET = b"twilio-auth-token-7f3a9c"
AAD = credential_aad(42, "SMS")


def new_key() -> bytes:
    return os.urandom(32)


def as_text(key: bytes) -> str:
    return base64.b64encode(key).decode()


def settings_with(**changes: object) -> Settings:
    return replace(Settings.from_env({}), **changes)  # type: ignore[arg-type]


def test_a_sealed_secret_opens_to_the_same_bytes_and_does_not_contain_them():
    sealer = Sealer(LocalMasterKey(new_key()))
    sealed = sealer.seal(SECRET, AAD)
    assert SECRET not in sealed
    assert sealer.open(sealed, AAD) == SECRET


def test_sealing_twice_gives_different_values():
    sealer = Sealer(LocalMasterKey(new_key()))
    assert sealer.seal(SECRET, AAD) != sealer.seal(SECRET, AAD)


def test_a_value_sealed_for_another_owner_or_channel_does_not_open():
    sealer = Sealer(LocalMasterKey(new_key()))
    sealed = sealer.seal(SECRET, AAD)
    for other in (credential_aad(43, "SMS"), credential_aad(42, "TELEGRAM")):
        with pytest.raises(SealError, match="tampered with or belongs to another owner"):
            sealer.open(sealed, other)


def test_flipping_any_byte_of_a_sealed_value_makes_it_fail_to_open():
    sealer = Sealer(LocalMasterKey(new_key()))
    sealed = sealer.seal(SECRET, AAD)
    for position in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[position] ^= 0x01
        with pytest.raises(SealError):
            sealer.open(bytes(tampered), AAD)


def test_truncated_or_foreign_bytes_are_refused_as_not_sealed():
    sealer = Sealer(LocalMasterKey(new_key()))
    sealed = sealer.seal(SECRET, AAD)
    for value in (b"", sealed[:1], sealed[:20], sealed[:-17], b"plain text token"):
        with pytest.raises(SealError):
            sealer.open(value, AAD)


def test_old_keys_still_open_after_the_master_key_changes():
    old_key, new = LocalMasterKey(new_key()), LocalMasterKey(new_key())
    sealed_before = Sealer(old_key).seal(SECRET, AAD)
    rotating = Sealer(new, old=[old_key])
    assert rotating.open(sealed_before, AAD) == SECRET
    assert key_id_of(rotating.seal(SECRET, AAD)) == new.key_id


def test_rewrap_moves_a_value_to_the_current_key_without_changing_the_secret():
    old_key, new = LocalMasterKey(new_key()), LocalMasterKey(new_key())
    sealed_before = Sealer(old_key).seal(SECRET, AAD)
    rewrapped = Sealer(new, old=[old_key]).rewrap(sealed_before, AAD)
    assert key_id_of(sealed_before) == old_key.key_id and key_id_of(rewrapped) == new.key_id
    assert rewrapped != sealed_before
    assert Sealer(new).open(rewrapped, AAD) == SECRET  # the old key is no longer needed


def test_a_value_from_an_unknown_master_key_names_the_key_and_the_remedy():
    stranger = LocalMasterKey(new_key())
    sealed = Sealer(stranger).seal(SECRET, AAD)
    with pytest.raises(SealError) as caught:
        Sealer(LocalMasterKey(new_key())).open(sealed, AAD)
    assert stranger.key_id in str(caught.value) and "CREDENTIALS_OLD_KEYS" in str(caught.value)


def test_reprs_show_key_ids_but_never_keys():
    key = new_key()
    master = LocalMasterKey(key)
    sealer = Sealer(master, old=[LocalMasterKey(new_key())])
    for shown in (repr(master), repr(sealer), str(sealer)):
        assert master.key_id in shown
        assert as_text(key) not in shown and key.hex() not in shown
    assert local_key_id(key) == master.key_id and len(master.key_id) == 16


def test_sealer_from_settings_uses_credentials_key_and_old_keys():
    old, current = new_key(), new_key()
    sealer = sealer_from_settings(settings_with(credentials_key=as_text(current),
                                                credentials_old_keys=f" {as_text(old)} ,"))
    assert sealer.key_id == local_key_id(current)
    assert sealer.open(Sealer(LocalMasterKey(old)).seal(SECRET, AAD), AAD) == SECRET


@pytest.mark.parametrize("value,expected", [
    ("not base64!", "CREDENTIALS_KEY must be base64 of 32 random bytes"),
    (base64.b64encode(b"short").decode(), "it decodes to 5 bytes"),
])
def test_a_malformed_credentials_key_is_a_clear_settings_error(value, expected):
    with pytest.raises(SettingsError, match=expected):
        sealer_from_settings(settings_with(credentials_key=value))


def test_without_any_key_the_error_says_to_set_credentials_key(tmp_path: Path):
    missing = tmp_path / "var" / "credentials.key"
    with pytest.raises(SettingsError, match="set CREDENTIALS_KEY") as caught:
        sealer_from_settings(settings_with(credentials_key="", credentials_key_file=missing))
    assert str(missing) in str(caught.value)


def test_the_development_key_file_is_created_once_private_and_then_used(tmp_path: Path):
    path = tmp_path / "var" / "credentials.key"
    assert create_key_file(path) is True
    first = path.read_text()
    assert create_key_file(path) is False and path.read_text() == first  # never overwritten
    assert path.stat().st_mode & 0o777 == 0o600
    sealer = sealer_from_settings(settings_with(credentials_key="", credentials_key_file=path))
    assert sealer.key_id == local_key_id(base64.b64decode(first))

"""Provider credentials (Twilio secrets, bot tokens) sealed at rest with envelope encryption.

Each secret is encrypted with AES-256-GCM under its own fresh 256-bit data key, with associated data binding it to
its owner (``credential_aad``), so a sealed value copied onto another user's row does not open. The data key is
wrapped by the master key: ``LocalMasterKey`` (the 32 bytes of ``CREDENTIALS_KEY``) or ``KmsMasterKey`` (AWS KMS).

A sealed value is self-describing, so it can be opened after the master key changed (``CREDENTIALS_OLD_KEYS``)::

    version (1 byte = 1) | key id length (1) | key id (ASCII) | wrapped key length (2, big-endian) | wrapped key
    | nonce (12) | ciphertext with its 16-byte GCM tag

Nothing here logs, and no ``repr`` shows a key or a plaintext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from postman_shared.settings import Settings, SettingsError

VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
_WRAP_CONTEXT = b"postman-data-key:"  # separates the wrapping AAD from the payload AAD
_KMS_PREFIX = "kms:"


class SealError(Exception):
    """A sealed value cannot be opened: wrong owner, tampered, unknown master key, or the key service failed."""


class MasterKey(Protocol):
    key_id: str

    def wrap(self, data_key: bytes, aad: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes: ...


CREDENTIAL_LABEL = re.compile(r"^[a-z0-9-]{1,50}$")


def check_credential_label(label: str) -> str:
    """A stored credential's label as given; refuses one that is not 1-50 lower-case letters, digits or hyphens
    (the API's rule) with the ``invalid_credential_label`` error."""
    from postman_shared.grpc.errors import ErrorCode, InvalidArgument  # grpc is not needed by postmanctl's other uses

    if not CREDENTIAL_LABEL.fullmatch(label):
        raise InvalidArgument(f"The label {label[:60]!r} is not valid: use 1 to 50 lower-case letters, digits or "
                              "hyphens, e.g. \"moh-reminders\"", code=ErrorCode.INVALID_CREDENTIAL_LABEL)
    return label


def credential_aad(user_id: int, channel: str) -> bytes:
    """The associated data of a stored provider credential: it opens only for the user and channel it was sealed for."""
    return f"credential:{user_id}:{channel}".encode()


def decode_master_key(text: str, source: str) -> bytes:
    """The 32 bytes of a base64 master key; ``source`` names where it came from, for the error."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError(f"{source} must be base64 of 32 random bytes (openssl rand -base64 32); "
                            "it is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise SettingsError(f"{source} must be base64 of 32 random bytes (openssl rand -base64 32); "
                            f"it decodes to {len(key)} bytes")
    return key


def local_key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


class LocalMasterKey:
    """A 32-byte master key held in memory (``CREDENTIALS_KEY``); wraps data keys with AES-256-GCM."""

    __slots__ = ("_aead", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a master key is {KEY_BYTES} bytes, got {len(key)}")
        self.key_id = local_key_id(key)
        self._aead = AESGCM(key)  # the raw bytes are not kept on the object

    def __repr__(self) -> str:
        return f"LocalMasterKey(key_id={self.key_id!r})"

    def wrap(self, data_key: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, _WRAP_CONTEXT + aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _WRAP_CONTEXT + aad)
        except (InvalidTag, ValueError):
            raise SealError(f"the data key does not open with master key {self.key_id}: "
                            "the value was tampered with or belongs to another owner") from None


class KmsMasterKey:
    """An AWS KMS key wrapping data keys (``CREDENTIALS_KMS_KEY_ID``); the owner is the KMS encryption context."""

    __slots__ = ("_client", "kms_key_id", "key_id")

    def __init__(self, kms_key_id: str, client: Any) -> None:
        self.kms_key_id = kms_key_id
        self.key_id = _KMS_PREFIX + kms_key_id
        self._client = client

    def __repr__(self) -> str:
        return f"KmsMasterKey(key_id={self.key_id!r})"

    @staticmethod
    def _context(aad: bytes) -> dict[str, str]:
        # Readable in CloudTrail; KMS binds the ciphertext to it exactly like GCM associated data.
        return {"postman": aad.decode("utf-8", "backslashreplace")}

    def wrap(self, data_key: bytes, aad: bytes) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client.encrypt(KeyId=self.kms_key_id, Plaintext=data_key,
                                          EncryptionContext=self._context(aad))
        except (BotoCoreError, ClientError) as exc:
            raise SealError(f"AWS KMS could not wrap a data key with {self.kms_key_id}: {_kms_reason(exc)}") from None
        return bytes(answer["CiphertextBlob"])

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client.decrypt(KeyId=self.kms_key_id, CiphertextBlob=wrapped,
                                          EncryptionContext=self._context(aad))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidCiphertextException":
                raise SealError(f"the data key does not open with KMS key {self.kms_key_id}: "
                                "the value was tampered with or belongs to another owner") from None
            raise SealError(f"AWS KMS could not unwrap a data key: {_kms_reason(exc)}") from None
        except BotoCoreError as exc:
            raise SealError(f"AWS KMS could not unwrap a data key: {_kms_reason(exc)}") from None
        return bytes(answer["Plaintext"])


def _kms_reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        error = response["Error"]
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip()
    return str(exc)


def _pack(key_id: str, wrapped: bytes, nonce: bytes, ciphertext: bytes) -> bytes:
    key_id_bytes = key_id.encode("ascii")
    return (struct.pack(">BB", VERSION, len(key_id_bytes)) + key_id_bytes
            + struct.pack(">H", len(wrapped)) + wrapped + nonce + ciphertext)


def _unpack(sealed: bytes) -> tuple[str, bytes, bytes, bytes]:
    """(key id, wrapped key, nonce, ciphertext) of a sealed value, or SealError if it is not one."""
    if len(sealed) < 2:
        raise SealError("not a sealed value: too short")
    version, id_length = sealed[0], sealed[1]
    if version != VERSION:
        raise SealError(f"not a sealed value of a known version (version byte {version}, expected {VERSION})")
    offset = 2 + id_length
    if len(sealed) < offset + 2:
        raise SealError("not a sealed value: truncated key id")
    try:
        key_id = sealed[2:offset].decode("ascii")
    except UnicodeDecodeError:
        raise SealError("not a sealed value: the key id is not ASCII") from None
    (wrapped_length,) = struct.unpack(">H", sealed[offset:offset + 2])
    offset += 2
    wrapped = sealed[offset:offset + wrapped_length]
    offset += wrapped_length
    nonce = sealed[offset:offset + NONCE_BYTES]
    ciphertext = sealed[offset + NONCE_BYTES:]
    if len(wrapped) != wrapped_length or len(nonce) != NONCE_BYTES or len(ciphertext) < 16:
        raise SealError("not a sealed value: truncated")
    return key_id, wrapped, nonce, ciphertext


def key_id_of(sealed: bytes) -> str:
    """The id of the master key that wraps a sealed value."""
    return _unpack(sealed)[0]


class Sealer:
    """Seals with the current master key; opens with it or with any of the old keys, chosen by the value's key id."""

    def __init__(self, current: MasterKey, old: Iterable[MasterKey] = (), kms_client: Any = None) -> None:
        if len(current.key_id.encode("ascii")) > 255:
            raise SettingsError("CREDENTIALS_KMS_KEY_ID is longer than 255 characters")
        self.current = current
        self._keys: dict[str, MasterKey] = {key.key_id: key for key in old}
        self._keys[current.key_id] = current
        self._kms_client = kms_client  # opens values wrapped by another KMS key (a KMS-to-KMS rotation)

    def __repr__(self) -> str:
        return f"Sealer(current={self.current!r}, accepted={sorted(self._keys)!r})"

    @property
    def key_id(self) -> str:
        """The current master key's id: what ``seal`` and ``rewrap`` wrap with."""
        return self.current.key_id

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, _payload_aad(aad))
        return _pack(self.current.key_id, self.current.wrap(data_key, aad), nonce, ciphertext)

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        key_id, wrapped, nonce, ciphertext = _unpack(sealed)
        data_key = self._master_key(key_id).unwrap(wrapped, aad)
        try:
            return AESGCM(data_key).decrypt(nonce, ciphertext, _payload_aad(aad))
        except (InvalidTag, ValueError):
            raise SealError("the sealed value does not open: it was tampered with or belongs to another owner") \
                from None

    def rewrap(self, sealed: bytes, aad: bytes) -> bytes:
        """The same secret sealed again under the current master key with a fresh data key (for key rotation)."""
        return self.seal(self.open(sealed, aad), aad)

    def _master_key(self, key_id: str) -> MasterKey:
        if key_id in self._keys:
            return self._keys[key_id]
        if key_id.startswith(_KMS_PREFIX) and self._kms_client is not None:
            return KmsMasterKey(key_id[len(_KMS_PREFIX):], self._kms_client)
        raise SealError(f"the value is sealed with master key {key_id}, which is neither CREDENTIALS_KEY "
                        f"({self.current.key_id}) nor one of CREDENTIALS_OLD_KEYS; add that key to "
                        "CREDENTIALS_OLD_KEYS to open it")


def _payload_aad(aad: bytes) -> bytes:
    return b"postman-sealed:%d:" % VERSION + aad


def kms_client_from_settings(settings: Settings) -> Any:
    import boto3

    return boto3.client("kms", region_name=settings.kms_region, endpoint_url=settings.kms_endpoint_url or None)


def sealer_from_settings(settings: Settings, kms_client: Any = None) -> Sealer:
    """The sealer configured by CREDENTIALS_KMS_KEY_ID, else CREDENTIALS_KEY, else the development key file."""
    old = [LocalMasterKey(decode_master_key(text, "each of CREDENTIALS_OLD_KEYS"))
           for text in settings.credentials_old_keys.split(",") if text.strip()]
    current: MasterKey
    if settings.credentials_kms_key_id:
        kms_client = kms_client or kms_client_from_settings(settings)
        current = KmsMasterKey(settings.credentials_kms_key_id, kms_client)
        if settings.credentials_key:  # moving from a local key to KMS: the local key still opens
            old.append(LocalMasterKey(decode_master_key(settings.credentials_key, "CREDENTIALS_KEY")))
    elif settings.credentials_key:
        current = LocalMasterKey(decode_master_key(settings.credentials_key, "CREDENTIALS_KEY"))
    else:
        current = LocalMasterKey(read_key_file(settings.credentials_key_file))
    return Sealer(current, old, kms_client)


def read_key_file(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise SettingsError(f"no master key for stored credentials: set CREDENTIALS_KEY to base64 of 32 random "
                            f"bytes (openssl rand -base64 32), or for development run `postmanctl setup`, which "
                            f"creates {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"cannot read the credentials key file {path}: {exc}") from None
    return decode_master_key(text, f"the credentials key file {path}")


def create_key_file(path: Path) -> bool:
    """Writes a new random master key (base64, mode 0600) to ``path`` unless it exists. Returns True if created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii") + "\n")
    return True


def new_master_key() -> str:
    """A fresh master key, base64: what CREDENTIALS_KEY holds."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")

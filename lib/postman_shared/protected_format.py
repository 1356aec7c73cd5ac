"""The two formats of a password-protected message, as data: derivation, encryption and the server's check.

Version 1 is Postman's, kept readable so that existing integrations keep working: the key is PBKDF2-SHA256 of the
password with the message id as salt and 4,000 iterations; the payload is ``b64(ciphertext).b64(iv)`` of AES-GCM-256;
the server keeps ``passwordhash`` = ``b64(SHA-256(key))`` and the reader proves the password by sending exactly that.

Version 2 is made by this platform's officer page (and any integration that follows docs/protected-messages.md):
PBKDF2-SHA256 with a random 16-byte salt and at least 600,000 iterations gives a master secret, from which HKDF-SHA256
derives two independent 32-byte values, the AES-GCM-256 key and an access token; the ciphertext is bound to the
message id (additional data). The server keeps ``accesshash`` = ``b64(SHA-256(access token))`` and the reader sends
the access token: what the server stores opens nothing, and neither it nor the token reveals the key.

The browser does the same with WebCrypto (``postman_gateway/web/static/js/protect-crypto.js``); the tests hold both
to the same known vectors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

V1_ITERATIONS = 4_000
V2_MIN_ITERATIONS = 600_000
V2_ITERATIONS = 600_000
V2_SALT_BYTES = 16
IV_BYTES = 12
KDF_NAME = "PBKDF2-SHA256"
V2_ENCRYPTION_INFO = b"postman protect v2 encryption key"
V2_ACCESS_INFO = b"postman protect v2 access token"
V2_AAD_PREFIX = "postman protect v2:"


class BadPayload(ValueError):
    """The payload is not ``b64(ciphertext).b64(iv)``, or it does not open with the key."""


@dataclass(frozen=True)
class Sealed:
    """One protected message as stored: the payload and the check value the server compares against."""

    payload: str
    check: str  # v1: passwordhash; v2: accesshash


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    """Strict standard base64 (padding required); BadPayload when it is not."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise BadPayload("not base64") from exc


def split_payload(payload: str) -> tuple[bytes, bytes]:
    """(ciphertext with its tag, iv) of ``b64(ciphertext).b64(iv)``."""
    parts = payload.split(".")
    if len(parts) != 2:
        raise BadPayload("the payload must be two base64 values joined by a dot: ciphertext.iv")
    ciphertext, iv = unb64(parts[0]), unb64(parts[1])
    if len(iv) != IV_BYTES:
        raise BadPayload(f"the iv must be {IV_BYTES} bytes")
    if len(ciphertext) <= 16:
        raise BadPayload("the ciphertext is too short to hold a message and its tag")
    return ciphertext, iv


def _pbkdf2(password: str, salt: bytes, iterations: int) -> bytes:
    return PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations).derive(
        password.encode("utf-8"))


def _hkdf(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


# -- Version 1 (Postman) ------------------------------------------------------------------------------------------

def v1_key(password: str, message_id: str, iterations: int = V1_ITERATIONS) -> bytes:
    return _pbkdf2(password, message_id.encode("utf-8"), iterations)


def v1_password_hash(key: bytes) -> str:
    """What the v1 reader sends, and what the v1 file's ``passwordhash`` column holds."""
    return b64(hashlib.sha256(key).digest())


def v1_seal(message: str, password: str, message_id: str, iv: bytes | None = None) -> Sealed:
    key = v1_key(password, message_id)
    iv = iv or os.urandom(IV_BYTES)
    ciphertext = AESGCM(key).encrypt(iv, message.encode("utf-8"), None)
    return Sealed(payload=f"{b64(ciphertext)}.{b64(iv)}", check=v1_password_hash(key))


def v1_open(payload: str, password: str, message_id: str) -> str:
    ciphertext, iv = split_payload(payload)
    try:
        return AESGCM(v1_key(password, message_id)).decrypt(iv, ciphertext, None).decode("utf-8")
    except InvalidTag as exc:
        raise BadPayload("the password does not open this message") from exc


# -- Version 2 (this platform) ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class V2Keys:
    encryption_key: bytes
    access_token: bytes


def v2_keys(password: str, salt: bytes, iterations: int = V2_ITERATIONS) -> V2Keys:
    master = _pbkdf2(password, salt, iterations)
    return V2Keys(encryption_key=_hkdf(master, V2_ENCRYPTION_INFO), access_token=_hkdf(master, V2_ACCESS_INFO))


def v2_aad(message_id: str) -> bytes:
    return (V2_AAD_PREFIX + message_id).encode("utf-8")


def access_hash(access_token: bytes) -> str:
    """The v2 check value: what the file's ``accesshash`` column holds and the server keeps."""
    return b64(hashlib.sha256(access_token).digest())


def v2_seal(message: str, password: str, message_id: str, salt: bytes | None = None, iv: bytes | None = None,
            iterations: int = V2_ITERATIONS) -> tuple[Sealed, bytes]:
    """(the sealed message, its salt)."""
    salt = salt or os.urandom(V2_SALT_BYTES)
    keys = v2_keys(password, salt, iterations)
    iv = iv or os.urandom(IV_BYTES)
    ciphertext = AESGCM(keys.encryption_key).encrypt(iv, message.encode("utf-8"), v2_aad(message_id))
    return Sealed(payload=f"{b64(ciphertext)}.{b64(iv)}", check=access_hash(keys.access_token)), salt


def v2_open(payload: str, password: str, message_id: str, salt: bytes, iterations: int) -> str:
    ciphertext, iv = split_payload(payload)
    keys = v2_keys(password, salt, iterations)
    try:
        return AESGCM(keys.encryption_key).decrypt(iv, ciphertext, v2_aad(message_id)).decode("utf-8")
    except InvalidTag as exc:
        raise BadPayload("the password does not open this message") from exc


# -- The server's check -------------------------------------------------------------------------------------------

def proof_matches(version: int, stored_check: str, presented: str) -> bool:
    """Whether what the reader sent proves the password: v1 sends the passwordhash itself; v2 sends the access
    token, whose SHA-256 must be the stored accesshash. Constant-time either way."""
    if version == 1:
        return hmac.compare_digest(presented.encode("ascii", "replace"), stored_check.encode("ascii"))
    try:
        token = unb64(presented)
    except BadPayload:
        return False
    return hmac.compare_digest(access_hash(token), stored_check)

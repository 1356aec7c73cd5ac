"""Both formats of a protected message against known vectors: version 1 exactly as Postman's frontend makes it (three
vectors made with Node's WebCrypto, tests/testdata/protected/vectors.json), so this code reads what existing
integrations make and makes what Postman's reader opens; version 2 against its own definition, written out here
step by step with primitives other than the module's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from postman_shared import protected_format as pf
from tests.conftest import TESTDATA

VECTORS = json.loads((TESTDATA / "protected" / "vectors.json").read_text())


@pytest.mark.parametrize("vector", VECTORS, ids=[v["recipient"] for v in VECTORS])
def test_version_1_reads_what_postmans_frontend_makes(vector):
    assert pf.v1_open(vector["payload"], vector["password"], vector["id"]) == vector["message"]
    assert pf.v1_password_hash(pf.v1_key(vector["password"], vector["id"])) == vector["passwordhash"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["recipient"] for v in VECTORS])
def test_version_1_makes_exactly_what_postmans_frontend_makes(vector):
    _, iv = pf.split_payload(vector["payload"])
    sealed = pf.v1_seal(vector["message"], vector["password"], vector["id"], iv=iv)
    assert (sealed.payload, sealed.check) == (vector["payload"], vector["passwordhash"])


def test_version_1_refuses_another_password_or_another_id():
    vector = VECTORS[0]
    with pytest.raises(pf.BadPayload):
        pf.v1_open(vector["payload"], vector["password"] + "x", vector["id"])
    with pytest.raises(pf.BadPayload):
        pf.v1_open(vector["payload"], vector["password"], VECTORS[1]["id"])


def _hkdf_sha256(master: bytes, info: bytes) -> bytes:
    """RFC 5869 with an empty salt (HashLen zero bytes) and one block of output, written out."""
    prk = hmac.new(b"\0" * 32, master, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def test_version_2_is_pbkdf2_then_hkdf_with_the_message_id_bound_as_additional_data():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, iv, message_id = bytes(range(16)), bytes(range(12)), "0b7e9c41-2f6a-4d85-b3c2-7e8f9a0b1c2d"
    sealed, returned_salt = pf.v2_seal("<p>Résultat: négatif</p>", "S1234567D", message_id, salt=salt, iv=iv)
    assert returned_salt == salt
    master = hashlib.pbkdf2_hmac("sha256", b"S1234567D", salt, 600_000)
    key = _hkdf_sha256(master, b"postman protect v2 encryption key")
    token = _hkdf_sha256(master, b"postman protect v2 access token")
    expected = AESGCM(key).encrypt(iv, "<p>Résultat: négatif</p>".encode(), f"postman protect v2:{message_id}".encode())
    assert sealed.payload == f"{base64.b64encode(expected).decode()}.{base64.b64encode(iv).decode()}"
    assert sealed.check == base64.b64encode(hashlib.sha256(token).digest()).decode()
    # What the server keeps is neither the key nor a plain hash of it.
    assert sealed.check not in (base64.b64encode(key).decode(), base64.b64encode(hashlib.sha256(key).digest()).decode())
    assert pf.v2_open(sealed.payload, "S1234567D", message_id, salt, 600_000) == "<p>Résultat: négatif</p>"
    with pytest.raises(pf.BadPayload):  # bound to its id: moved under another id it does not open
        pf.v2_open(sealed.payload, "S1234567D", VECTORS[0]["id"], salt, 600_000)


def test_the_servers_check_takes_each_versions_proof_and_nothing_else():
    vector = VECTORS[0]
    assert pf.proof_matches(1, vector["passwordhash"], vector["passwordhash"])
    assert not pf.proof_matches(1, vector["passwordhash"], VECTORS[1]["passwordhash"])
    sealed, salt = pf.v2_seal("m", "pw", vector["id"])
    token = pf.v2_keys("pw", salt).access_token
    assert pf.proof_matches(2, sealed.check, base64.b64encode(token).decode())
    assert not pf.proof_matches(2, sealed.check, sealed.check)  # the stored value itself opens nothing
    assert not pf.proof_matches(2, sealed.check, "not base64!")


@pytest.mark.parametrize("payload", ["", "abc", "YWJj.YWJj", "!!.!!", "a.b.c",
                                     base64.b64encode(b"x" * 40).decode() + "." + base64.b64encode(b"i" * 11).decode()])
def test_a_payload_that_is_not_ciphertext_dot_iv_is_refused(payload):
    with pytest.raises(pf.BadPayload):
        pf.split_payload(payload)

"""A private certificate authority and one certificate per service, for mutual TLS between the services.

Layout of the folder (``GRPC_TLS_DIR``), the same as a cluster mounting one Secret per service as cert-manager makes
them (``tls.crt``, ``tls.key``, ``ca.crt``)::

    <dir>/ca/ca.crt, ca.key         the authority (local only: a cluster never mounts ca.key)
    <dir>/<service>/tls.crt         the service's certificate: subject CN = its name, usable as client and server
    <dir>/<service>/tls.key
    <dir>/<service>/ca.crt          the authority it trusts

``postmanctl certs`` (and ``postmanctl setup``, so ``make run``) creates what is missing and keeps what exists.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from postman_shared.grpc.authorization import SERVICES

CA_DIR = "ca"
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
CA_FILE = "ca.crt"
VALID_DAYS = 825
# Names every local certificate answers to: services reach each other on loopback in `make run` and the tests.
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _subject_names(names: Iterable[str]) -> list[x509.GeneralName]:
    found: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            found.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            found.append(x509.DNSName(name))
    return found


def _authority(folder: Path, now: datetime.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, bool]:
    """The local authority in ``folder/ca``, created if missing. Returns (key, certificate, created)."""
    cert_path, key_path = folder / CA_DIR / CA_FILE, folder / CA_DIR / "ca.key"
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_path} is not an EC private key")
        return key, x509.load_pem_x509_certificate(cert_path.read_bytes()), False
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Postman local service CA")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _pem_key(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, True


def issue(folder: Path, service: str, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate,
          hosts: Iterable[str] = (), now: datetime.datetime | None = None) -> None:
    """Writes ``folder/<service>/`` with a certificate naming ``service`` (CN and DNS name) signed by the authority."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, service)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(_subject_names([service, *LOCAL_NAMES, *hosts])), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    target = folder / service
    _write_private(target / KEY_FILE, _pem_key(key))
    (target / CERT_FILE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (target / CA_FILE).write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))


def ensure_certificates(folder: Path, services: Iterable[str] = SERVICES, hosts: Iterable[str] = ()) -> list[str]:
    """Creates the authority and each service's certificate where missing; keeps the ones that exist.
    Returns what it created, for printing."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, ca_cert, created_ca = _authority(folder, now)
    done = [f"created the local service CA {folder / CA_DIR / CA_FILE}"] if created_ca else []
    extra = list(hosts)
    for service in services:
        if (folder / service / CERT_FILE).exists() and (folder / service / KEY_FILE).exists() and not created_ca:
            continue
        issue(folder, service, ca_key, ca_cert, extra, now)
        done.append(f"created the certificate of {service} in {folder / service}")
    return done

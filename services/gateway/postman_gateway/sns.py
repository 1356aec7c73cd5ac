"""Checking that a message POSTed to us really comes from Amazon SNS: its signature, made with the private key of the
certificate at ``SigningCertURL``, over the fields SNS signs for its type.

``SignatureVersion`` 1 is SHA1withRSA, 2 is SHA256withRSA (PKCS#1 v1.5). The certificate is fetched only from an
SNS host (``https://sns.<region>.amazonaws.com/...pem``; ``SNS_CERT_URL_PREFIX`` replaces that rule with a prefix,
for tests), must be within its validity dates, and is cached per URL. ``SubscribeURL`` (confirming a subscription)
is held to the same rule, so a signed message cannot make the gateway call anywhere else.

See https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html for the signed fields.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
# The fields SNS signs, in the order it signs them; Subject only when the notification has one.
SIGNED_FIELDS = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    UNSUBSCRIBE_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
MAX_CERTIFICATE_BYTES = 64 * 1024
CACHED_CERTIFICATES = 32
FETCH_TIMEOUT_SECONDS = 5.0


class NotFromSns(Exception):
    """The message is not a genuine SNS message; the text says why (it names no secret)."""


class SnsUnreachable(Exception):
    """The signing certificate (or SubscribeURL) could not be fetched now: worth SNS's retry."""


def _default_fetch(url: str) -> bytes:
    response = requests.get(url, timeout=FETCH_TIMEOUT_SECONDS, stream=True)
    try:
        response.raise_for_status()
        content = response.raw.read(MAX_CERTIFICATE_BYTES + 1, decode_content=True)
    finally:
        response.close()
    if len(content) > MAX_CERTIFICATE_BYTES:
        raise ValueError(f"more than {MAX_CERTIFICATE_BYTES} bytes")
    return bytes(content)


class SnsVerifier:
    """Checks SNS messages; thread-safe (one per app, shared by request threads)."""

    def __init__(self, cert_url_prefix: str = "", fetch: Callable[[str], bytes] = _default_fetch) -> None:
        self._prefix = cert_url_prefix
        self._fetch = fetch
        self._certificates: OrderedDict[str, x509.Certificate] = OrderedDict()
        self._lock = threading.Lock()

    def is_sns_url(self, url: str) -> bool:
        """Whether the gateway may fetch this URL on behalf of a message (a certificate or SubscribeURL)."""
        if self._prefix:
            return url.startswith(self._prefix)
        parts = urlsplit(url)
        return parts.scheme == "https" and _SNS_HOST.fullmatch(parts.hostname or "") is not None and not parts.port

    def verify(self, message: dict[str, Any]) -> None:
        """Returns when ``message`` carries a valid SNS signature; raises NotFromSns (or SnsUnreachable) if not."""
        kind = message.get("Type")
        fields = SIGNED_FIELDS.get(kind if isinstance(kind, str) else "")
        if fields is None:
            raise NotFromSns(f"unknown SNS message Type {str(kind)[:40]!r}")
        algorithm = HASHES.get(str(message.get("SignatureVersion")))
        if algorithm is None:
            raise NotFromSns("SignatureVersion must be 1 or 2")
        cert_url = message.get("SigningCertURL")
        if not isinstance(cert_url, str) or not self.is_sns_url(cert_url):
            raise NotFromSns("SigningCertURL is not an SNS certificate URL")
        try:
            signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        except (binascii.Error, ValueError):
            raise NotFromSns("Signature is not base64") from None
        key = self._certificate(cert_url).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise NotFromSns("the signing certificate does not hold an RSA key")
        try:
            key.verify(signature, string_to_sign(message, fields), padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            raise NotFromSns("the signature does not match the message") from None

    def _certificate(self, url: str) -> x509.Certificate:
        with self._lock:
            certificate = self._certificates.get(url)
            if certificate is not None:
                self._certificates.move_to_end(url)
        if certificate is None:
            try:
                pem = self._fetch(url)
            except (requests.RequestException, ValueError, OSError) as exc:
                raise SnsUnreachable(f"the signing certificate could not be fetched: {type(exc).__name__}") from None
            try:
                certificate = x509.load_pem_x509_certificate(pem)
            except ValueError:
                raise NotFromSns("SigningCertURL does not hold a PEM certificate") from None
            with self._lock:
                self._certificates[url] = certificate
                while len(self._certificates) > CACHED_CERTIFICATES:
                    self._certificates.popitem(last=False)
        now = datetime.now(timezone.utc)
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise NotFromSns("the signing certificate is outside its validity dates")
        return certificate


def string_to_sign(message: dict[str, Any], fields: tuple[str, ...]) -> bytes:
    """Each signed field present, as ``name\\nvalue\\n``, in SNS's order."""
    parts = []
    for name in fields:
        value = message.get(name)
        if value is None:
            if name == "Subject":
                continue
            raise NotFromSns(f"{name} is missing")
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode("utf-8")

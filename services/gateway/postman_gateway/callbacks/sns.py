"""Checking that a message POSTed to us really comes from Amazon SNS: its signature, made with the private key of the
certificate at ``SigningCertURL``, over the fields SNS signs for its type.

``SignatureVersion`` 1 is SHA1withRSA, 2 is SHA256withRSA (PKCS#1 v1.5). The certificate is fetched only from the
SNS host of a configured region, at SNS's own file name: ``https://sns.<region>.amazonaws.com/
SimpleNotificationService-<hex>.pem``, the region being ``SES_REGION`` or that of a topic in
``SES_EVENTS_TOPIC_ARNS`` (``SNS_CERT_URL_PREFIX`` replaces the host rule with a prefix, for tests; the file name rule
holds there too). It must be within its validity dates, and is cached per URL. ``SubscribeURL`` (confirming a
subscription) must be on the same hosts, so a signed message cannot make the gateway call anywhere else.

A genuine message is refused too when it was signed more than ``MAX_AGE`` ago (or claims a time well in the future):
a captured message cannot be replayed after that, and sender-email remembers the ids of the messages it applied for
longer than that (``postman_sender_email.sns_replays``), so it cannot be replayed within the hour either.

See https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html for the signed fields.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
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
CERTIFICATE_FILE_PREFIX = "/SimpleNotificationService-"
CERTIFICATE_FILE_SUFFIX = ".pem"
_HEX_DIGITS = frozenset("0123456789abcdef")
MAX_AGE = timedelta(hours=1)  # a message signed longer ago is refused
MAX_CLOCK_SKEW = timedelta(minutes=5)  # ...and one signed further in the future
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

    def __init__(self, cert_url_prefix: str = "", fetch: Callable[[str], bytes] = _default_fetch,
                 regions: Iterable[str] = ("ap-southeast-1",),
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self._prefix = cert_url_prefix
        self._fetch = fetch
        self._hosts = frozenset(sns_host(region) for region in regions if region)
        self._clock = clock
        self._certificates: OrderedDict[str, x509.Certificate] = OrderedDict()
        self._lock = threading.Lock()

    def is_sns_url(self, url: str) -> bool:
        """Whether the gateway may call this URL on behalf of a message (a SubscribeURL): https on the SNS host of
        a configured region, nothing else in the authority."""
        if self._prefix:
            return url.startswith(self._prefix)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return False
        return (parts.scheme == "https" and (parts.hostname or "") in self._hosts and port is None
                and parts.username is None and parts.password is None and parts.netloc == parts.hostname)

    def is_certificate_url(self, url: str) -> bool:
        """Whether ``SigningCertURL`` is where SNS keeps its certificates: an SNS URL (``is_sns_url``) whose path is
        ``/SimpleNotificationService-<lowercase hex>.pem``, without query or fragment."""
        if not self.is_sns_url(url):
            return False
        parts = urlsplit(url)
        if parts.query or parts.fragment:
            return False
        path = parts.path
        if self._prefix:  # the prefix stands for SNS's host: the file name rule holds for the last segment
            path = "/" + path.rpartition("/")[2]
        return is_certificate_path(path)

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
        if not isinstance(cert_url, str) or not self.is_certificate_url(cert_url):
            raise NotFromSns("SigningCertURL is not an SNS certificate URL of a configured region")
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
        self._check_age(message)  # the Timestamp is signed: checked once it is known to be SNS's

    def _check_age(self, message: dict[str, Any]) -> None:
        signed_at = _timestamp(message.get("Timestamp"))
        if signed_at is None:
            raise NotFromSns("Timestamp is not an ISO 8601 time")
        now = self._clock()
        if signed_at < now - MAX_AGE:
            raise NotFromSns(f"the message was signed more than {int(MAX_AGE.total_seconds() // 60)} minutes ago")
        if signed_at > now + MAX_CLOCK_SKEW:
            raise NotFromSns("the message claims to be signed in the future")

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


def sns_host(region: str) -> str:
    """SNS's host in ``region``: ``sns.<region>.amazonaws.com`` (``.amazonaws.com.cn`` in the China regions)."""
    region = region.strip().lower()
    return f"sns.{region}.amazonaws.com" + (".cn" if region.startswith("cn-") else "")


def topic_region(topic_arn: str) -> str:
    """The region of an SNS topic ARN (``arn:aws:sns:<region>:<account>:<name>``); "" when it is not one."""
    parts = topic_arn.strip().split(":")
    return parts[3] if len(parts) == 6 and parts[2] == "sns" else ""


def is_certificate_path(path: str) -> bool:
    """``/SimpleNotificationService-<lowercase hex>.pem``, checked without a regular expression."""
    if not (path.startswith(CERTIFICATE_FILE_PREFIX) and path.endswith(CERTIFICATE_FILE_SUFFIX)):
        return False
    digits = path[len(CERTIFICATE_FILE_PREFIX):-len(CERTIFICATE_FILE_SUFFIX)]
    return 0 < len(digits) <= 128 and all(c in _HEX_DIGITS for c in digits)


def _timestamp(value: Any) -> datetime | None:
    """SNS's Timestamp (``2026-12-05T01:02:03.456Z``) as an aware datetime; None when it is not one."""
    if not isinstance(value, str) or not 0 < len(value) <= 40:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


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

"""Client webhooks: what a user's own systems are told, signed, about their messages and campaigns (issue 16).

Not ``webhooks.py`` or ``callbacks.py``, which are about the providers calling us (Telegram, Twilio). Here we call
the client: a user registers one URL for transactional message status (email and SMS) and one for campaign events
(sent, halted, finished), each with its own secret.

- ``ClientWebhookEvent`` is the queue message: the service that records what happened writes it to its outbox in
  the same transaction (``emit``); its relay publishes it on ``client.webhooks``; stats delivers it.
- ``signature_header`` / ``verify``: ``X-Postman-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
  under the webhook's secret (docs/webhooks.md has the client's side).
- ``check_url`` / ``checked_addresses``: only https URLs whose host resolves to public addresses only (no loopback,
  private, link-local, shared, multicast, reserved or documentation range, IPv4-mapped ones included), unless
  ``WEBHOOK_ALLOW_PRIVATE`` (local development, refused off localhost by the start-up checks), which also allows
  http. ``post`` connects to the very address it checked (no second lookup a DNS rebinding could answer
  differently), with TLS verified against the host name, and never follows a redirect.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import SplitResult, urlsplit

import orjson
import urllib3
from sqlalchemy import Table
from sqlalchemy.orm import Session

from postman_shared import outbox
from postman_shared.broker.topology import CLIENT_WEBHOOKS

TRANSACTIONAL = "transactional"
CAMPAIGN = "campaign"
KINDS = (TRANSACTIONAL, CAMPAIGN)
SIGNATURE_HEADER = "X-Postman-Signature"
EVENT_ID_HEADER = "X-Postman-Event-Id"
EVENT_TYPE_HEADER = "X-Postman-Event-Type"
MAX_URL_LENGTH = 2000
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not a secret
TOLERANCE_SECONDS = 300  # a verifier refuses a signature older (or newer) than this: a replay is only that fresh
USER_AGENT = "Postman-Webhooks/1"
_RESPONSE_BYTES = 1024  # read of an answer's body, for the log only


def new_secret() -> str:
    """A webhook's signing secret: ``whsec_`` and 32 random bytes in hex. Shown once; sealed at rest."""
    return SECRET_PREFIX + secrets.token_hex(32)


def secret_aad(user_id: int, kind: str) -> bytes:
    """The associated data of a sealed webhook secret: it opens only for the user and kind it was sealed for."""
    return f"client-webhook:{user_id}:{kind}".encode()


# --- the event --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClientWebhookEvent:
    """One event for one user's webhook of one kind. ``data`` is what the client reads (see docs/webhooks.md)."""

    event_id: str  # "<type>-<what>-<id>...": unique per event, the message id and X-Postman-Event-Id
    user_id: int
    kind: str  # transactional | campaign
    type: str  # email.status, sms.status, campaign.sent, campaign.halted, campaign.finished, test
    occurred_at: str  # ISO 8601, UTC
    data: dict[str, Any] = field(default_factory=dict)
    first_attempt_at: float = 0.0  # unix time of the first delivery attempt (set by the deliverer); 0: none yet

    @property
    def message_id(self) -> str:
        return self.event_id

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ClientWebhookEvent":
        event = cls(event_id=d["event_id"], user_id=int(d["user_id"]), kind=d["kind"], type=d["type"],
                    occurred_at=d["occurred_at"], data=dict(d.get("data") or {}),
                    first_attempt_at=float(d.get("first_attempt_at") or 0.0))
        if event.kind not in KINDS or not isinstance(event.event_id, str) or not 0 < len(event.event_id) <= 200 \
                or not isinstance(event.type, str) or not isinstance(event.occurred_at, str):
            raise TypeError("event_id (1-200 characters), kind (transactional|campaign), type and occurred_at")
        return event

    def payload(self) -> bytes:
        """The body POSTed to the client: compact JSON, the same bytes that are signed."""
        return orjson.dumps({"id": self.event_id, "type": self.type, "created_at": self.occurred_at,
                             "data": self.data})


def emit(session: Session, table: Table, event: ClientWebhookEvent) -> None:
    """Writes ``event`` to the caller's outbox ``table``, in the caller's transaction: it leaves once that commits."""
    outbox.write(session, table, CLIENT_WEBHOOKS, event.message_id, event.to_dict())


def iso(value: Any) -> str | None:
    """A datetime as ISO 8601 (None stays None)."""
    return value.isoformat() if value is not None else None


# --- signing ----------------------------------------------------------------------------------------------------

def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, tolerance: int = TOLERANCE_SECONDS,
           now: float | None = None) -> bool:
    """What a client does (docs/webhooks.md): the header's time is recent and one of its v1 values matches."""
    parts = [item.split("=", 1) for item in header.split(",") if "=" in item]
    stamps = [value for key, value in parts if key.strip() == "t"]
    given = [value.strip() for key, value in parts if key.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not given:
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, value) for value in given)


# --- where we may connect ---------------------------------------------------------------------------------------

class RefusedUrl(ValueError):
    """A URL a webhook may not have or be delivered to; the message says why, for the user."""


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is on the public internet: not loopback, private, link-local (169.254/16: cloud metadata),
    shared (100.64/10), multicast, reserved, unspecified or documentation; an IPv4-mapped or NAT64/6to4 IPv6 address
    is judged by the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in ipaddress.IPv6Network("64:ff9b::/96"):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return bool(address.is_global and not (address.is_multicast or address.is_reserved or address.is_loopback
                                           or address.is_link_local or address.is_private
                                           or address.is_unspecified))


def check_url(url: str, allow_private: bool = False) -> SplitResult:
    """The parts of a URL a webhook may have: https (http too when ``allow_private``), a host, no user or password,
    at most 2,000 characters. Raises RefusedUrl saying what is wrong."""
    url = url.strip()
    if not url:
        raise RefusedUrl("url is required")
    if len(url) > MAX_URL_LENGTH:
        raise RefusedUrl(f"url is {len(url)} characters long; at most {MAX_URL_LENGTH} are allowed")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise RefusedUrl("url must not contain spaces or control characters")
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme.lower() not in schemes:
        raise RefusedUrl("url must start with https://")
    if parts.username is not None or parts.password is not None:
        raise RefusedUrl("url must not contain a user name or password; authenticate deliveries by their signature")
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number in range
    except ValueError:
        raise RefusedUrl("url has a port that is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise RefusedUrl("url must name a host")
    if parts.fragment:
        raise RefusedUrl("url must not have a fragment (#...)")
    return parts


Resolver = Callable[[str, int], Sequence[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA), through the system's resolver."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_addresses(parts: SplitResult, allow_private: bool = False,
                      resolver: Resolver = system_resolver) -> list[str]:
    """The addresses of the URL's host, each of them public (unless ``allow_private``); RefusedUrl otherwise. A host
    with one non-public address among public ones is refused: which one a client would pick is not ours to know."""
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = list(resolver(host, port))
        except (OSError, UnicodeError) as exc:
            raise RefusedUrl(f"the host {host[:100]} does not resolve ({type(exc).__name__})") from None
        if not addresses:
            raise RefusedUrl(f"the host {host[:100]} does not resolve")
    if allow_private:
        return addresses
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not is_public(address):
            raise RefusedUrl(f"the host {host[:100]} is {'' if literal is not None else 'resolves to '}a "
                             "loopback, private, link-local or reserved address; webhooks go to public addresses "
                             "only")
    return addresses


# --- delivering -------------------------------------------------------------------------------------------------

class WebhookAttemptOutcome(StrEnum):
    """What a delivery attempt came to (``client_webhook_attempts.outcome`` in stats): final, it never moves (a retry
    is a new attempt). The values are the strings stored and shown."""

    DELIVERED = "delivered"  # the user's endpoint answered 2xx
    FAILED = "failed"  # any other answer, or none: retried later
    REFUSED = "refused"  # the URL may not be called (not public): never sent
    EXPIRED = "expired"  # failed, and past WEBHOOK_RETRY_HOURS since the first attempt: given up


@dataclass(frozen=True)
class Attempt:
    """What one POST came to. ``delivered``: a 2xx answer. ``refused``: the URL may not be called (never sent)."""

    delivered: bool
    status_code: int | None
    error: str
    duration_ms: int
    refused: bool = False

    @property
    def outcome(self) -> WebhookAttemptOutcome:
        if self.delivered:
            return WebhookAttemptOutcome.DELIVERED
        return WebhookAttemptOutcome.REFUSED if self.refused else WebhookAttemptOutcome.FAILED


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float, allow_private: bool = False,
         resolver: Resolver = system_resolver, ca_certs: str | None = None) -> Attempt:
    """POSTs ``body`` to ``url``: the host resolved and checked, the connection made to that checked address (TLS
    verified for the host's name), no redirect followed, ``timeout`` seconds for connecting and for the answer."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        parts = check_url(url, allow_private)
        address = checked_addresses(parts, allow_private, resolver)[0]
    except RefusedUrl as exc:
        return Attempt(False, None, str(exc), took(), refused=True)
    host = parts.hostname or ""
    https = parts.scheme.lower() == "https"
    port = parts.port or (443 if https else 80)
    host_header = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        host_header += f":{parts.port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    limits = urllib3.Timeout(connect=timeout, read=timeout, total=timeout * 2)
    pool: urllib3.HTTPConnectionPool
    if https:
        pool = urllib3.HTTPSConnectionPool(address, port, timeout=limits, retries=False, maxsize=1,
                                           server_hostname=host, assert_hostname=host, cert_reqs="CERT_REQUIRED",
                                           ca_certs=ca_certs)
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=limits, retries=False, maxsize=1)
    try:
        response = pool.urlopen("POST", path, body=body, redirect=False, retries=False, preload_content=False,
                                headers={**headers, "Host": host_header, "Content-Type": "application/json",
                                         "User-Agent": USER_AGENT})
        try:
            response.read(_RESPONSE_BYTES)
        except (urllib3.exceptions.HTTPError, OSError):
            pass
        response.release_conn()
        status = int(response.status)
    except urllib3.exceptions.TimeoutError:
        return Attempt(False, None, f"no answer within {timeout:g} s", took())
    except urllib3.exceptions.SSLError as exc:
        return Attempt(False, None, f"TLS failed: {_short(exc)}", took())
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return Attempt(False, None, f"connection failed: {_short(exc)}", took())
    finally:
        pool.close()
    if 200 <= status < 300:
        return Attempt(True, status, "", took())
    if 300 <= status < 400:
        return Attempt(False, status, "redirects are not followed: register the final URL", took())
    return Attempt(False, status, f"answered HTTP {status}", took())


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:300]


def retry_delay_seconds(attempt: int, base: int, cap: int = 3600) -> int:
    """How long to wait after the ``attempt``-th failed try: base, 2 x base, 4 x base, ... at most ``cap``."""
    return int(min(base * 2 ** (max(attempt, 1) - 1), cap))

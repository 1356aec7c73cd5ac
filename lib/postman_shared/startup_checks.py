"""Refusals at start-up: a service outside local development does not run with a secret anyone can know.

The development defaults of the signing keys are in this repository, an empty key signs nothing worth checking, and
a short one can be guessed; with any of them a stranger forges Telegram updates (subscribing their own chat to a
citizen's number), Twilio receipts, return paths, CSRF tokens and upload URLs. So every service checks the secrets
it uses before it takes any work, and refuses to start, naming each bad setting, unless ``PUBLIC_URL`` is on this
machine (``make run`` and the tests, where the defaults are the point).

The same goes for the development outbox: ``EMAIL_TRANSPORT=outbox`` keeps every email (one-time passwords too) in a
folder that the gateway shows; that must never be reachable from another machine.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Callable, Iterator
from dataclasses import fields
from urllib.parse import urlsplit

from postman_shared.settings import Settings, SettingsError

MIN_SECRET_BYTES = 32
_DEFAULTS = {f.name: f.default for f in fields(Settings)}
# Text no real secret contains: the repository's development keys and the placeholders of the deployment examples.
_PLACEHOLDERS = ("dev-only", "change-me", "changeme", "test-only", "example")
GENERATE = "openssl rand -hex 32"


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is this machine only."""
    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local_development(settings: Settings) -> bool:
    """Whether PUBLIC_URL points at this machine: the only place where development defaults of secrets may be used."""
    return is_loopback_host(urlsplit(settings.public_url).hostname or "")


def secret_problem(name: str, value: str, default: str = "") -> str | None:
    """Why ``value`` cannot be the secret ``name`` outside local development; None when it can."""
    if not value.strip():
        return f"{name} is empty"
    if default and value == default:
        return f"{name} is the development default from the repository"
    lowered = value.lower()
    if any(marker in lowered for marker in _PLACEHOLDERS):
        return f"{name} is a placeholder or development value, not a random secret"
    if len(value.encode("utf-8")) < MIN_SECRET_BYTES:
        return f"{name} is too short ({len(value.encode('utf-8'))} bytes; at least {MIN_SECRET_BYTES})"
    return None


def _unsubscribe_problems(raw: str) -> Iterator[str]:
    if not raw.strip():
        yield "UNSUBSCRIBE_KEYS is empty"
        return
    for item in (part.strip() for part in raw.split(",") if part.strip()):
        version, _, secret = item.partition(":")
        problem = secret_problem(f"the key {version.strip()[:16]!r} of UNSUBSCRIBE_KEYS", secret.strip())
        if problem:
            yield problem


def _signing_key(settings: Settings, attribute: str) -> Iterator[str]:
    problem = secret_problem(attribute.upper(), getattr(settings, attribute), str(_DEFAULTS[attribute]))
    if problem:
        yield problem


def _credentials_key(settings: Settings) -> Iterator[str]:
    if not settings.credentials_key and not settings.credentials_kms_key_id \
            and settings.credentials_key_file == _DEFAULTS["credentials_key_file"]:
        yield ("CREDENTIALS_KEY (or CREDENTIALS_KMS_KEY_ID) is not set: the key file "
               f"{settings.credentials_key_file} is `postmanctl setup`'s development key")


def problems(settings: Settings, service: str) -> list[str]:
    """Every secret ``service`` uses with this configuration that is empty, a default or too short."""
    found: list[str] = []
    uses_local_uploads = settings.object_store == "local"
    if service == "gateway":
        found += _signing_key(settings, "callback_signing_key")  # Twilio and Telegram callbacks, CSRF tokens
        if uses_local_uploads:
            found += _signing_key(settings, "upload_signing_key")
        found += _unsubscribe_problems(settings.unsubscribe_keys)
    elif service == "campaign":
        if uses_local_uploads:
            found += _signing_key(settings, "upload_signing_key")
        found += _signing_key(settings, "protect_decoy_key")
    elif service == "renderer":
        found += _unsubscribe_problems(settings.unsubscribe_keys)
    elif service == "sender-email":
        if settings.bounce_address or settings.bounce_imap_url:  # VERP return paths are signed
            found += _signing_key(settings, "callback_signing_key")
        if settings.bounce_imap_url and settings.unsubscribe_mailto:  # mailto unsubscribes are checked
            found += _unsubscribe_problems(settings.unsubscribe_keys)
    elif service in ("sender-sms", "sender-telegram"):
        found += _signing_key(settings, "callback_signing_key")  # status-callback URLs, webhook secret tokens
        found += _credentials_key(settings)
    elif service == "stats":
        found += _credentials_key(settings)  # client webhooks' secrets are sealed with the master key
    return found


def check_secrets(settings: Settings, service: str) -> None:
    """Raises SettingsError naming every unusable secret of ``service``, unless PUBLIC_URL is on this machine."""
    if is_local_development(settings):
        return
    found = problems(settings, service)
    if found:
        raise SettingsError(
            f"{service} refuses to start: PUBLIC_URL ({settings.public_url}) is not this machine, so every secret "
            f"must be a random value of at least {MIN_SECRET_BYTES} bytes (e.g. `{GENERATE}`). "
            + "; ".join(found) + ".")


def check_outbox(settings: Settings, service: str) -> None:
    """Raises SettingsError when the development outbox could be reached from another machine: with
    ``EMAIL_TRANSPORT=outbox``, GATEWAY_HOST must be a loopback address and PUBLIC_URL this machine."""
    if settings.email_transport != "outbox":
        return
    if not is_loopback_host(settings.gateway_host):
        raise SettingsError(
            f"{service} refuses to start: EMAIL_TRANSPORT=outbox keeps every email, one-time passwords included, in "
            f"a development folder the gateway shows, but GATEWAY_HOST ({settings.gateway_host}) is not a loopback "
            "address. Use EMAIL_TRANSPORT=ses or smtp on a server, or GATEWAY_HOST=127.0.0.1 on your machine.")
    if not is_local_development(settings):
        raise SettingsError(
            f"{service} refuses to start: EMAIL_TRANSPORT=outbox is for development, but PUBLIC_URL "
            f"({settings.public_url}) is not this machine. Use EMAIL_TRANSPORT=ses or smtp on a server.")


def check_webhooks(settings: Settings, service: str) -> None:
    """Raises SettingsError when ``WEBHOOK_ALLOW_PRIVATE`` would let client webhooks reach this network (http,
    loopback, private and link-local addresses such as cloud metadata) anywhere but a developer's machine."""
    if settings.webhook_allow_private and not is_local_development(settings):
        raise SettingsError(
            f"{service} refuses to start: WEBHOOK_ALLOW_PRIVATE=true lets client webhooks call http URLs and "
            f"private, loopback and link-local addresses, which is for local development only, but PUBLIC_URL "
            f"({settings.public_url}) is not this machine. Remove WEBHOOK_ALLOW_PRIVATE.")


def check_startup(settings: Settings, service: str) -> None:
    """Every start-up refusal of ``service``; called by ServiceRuntime and the gateway before anything runs."""
    check_secrets(settings, service)
    check_webhooks(settings, service)
    if service in ("gateway", "sender-email"):
        check_outbox(settings, service)


def run_or_explain(service: str, run: Callable[[], object]) -> None:
    """Runs a service's ``main``; a setting it cannot start with ends the process with that sentence on stderr and
    exit status 2, not a stack trace: the person reading it has a setting to fix, not a bug to report."""
    try:
        run()
    except SettingsError as error:
        text = str(error)
        print(text if text.startswith(service) else f"{service} cannot start: {text}", file=sys.stderr)
        raise SystemExit(2) from None

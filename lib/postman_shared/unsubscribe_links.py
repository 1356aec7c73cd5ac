"""Personal unsubscribe links: ``PUBLIC_URL/unsubscribe/<campaign id>/<recipient>?v=<version>&h=<hmac>``.

``h`` is the hex HMAC-SHA256 of ``"<campaign id>.<recipient>"`` under the key named by ``v`` (upstream Postman's
scheme, so its ``PUT /v1/unsubscribe/{campaignId}/{recipient}`` with ``{h, v}`` keeps working). Keys are versioned
so they can rotate: ``UNSUBSCRIBE_KEYS="v2:<new>,v1:<old>"`` signs new links with the first and still accepts links
signed with any listed key; drop a key once the emails that carry it no longer matter.

The renderer signs (one HMAC per message); the gateway checks. A link whose campaign, recipient, version or hash was
altered does not verify, and nothing is changed for it.

The mailto form of ``List-Unsubscribe`` carries the same proof in its local part:
``unsubscribe+<campaign id>.<version>.<hash>@domain``; the reader of that mailbox takes the recipient from the
request's From and checks the hash against it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from postman_shared.settings import Settings, SettingsError

# Used only when PUBLIC_URL is this machine (make run, tests): every other deployment must set UNSUBSCRIBE_KEYS.
DEVELOPMENT_KEYS = "dev1:dev-only-unsubscribe-key"
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
MAILTO_HASH_CHARACTERS = 32  # of the hex HMAC in a mailto local part (local parts are at most 64 characters)


def is_local_development(public_url: str) -> bool:
    """Whether PUBLIC_URL points at this machine: the only place development defaults of secrets are used."""
    return (urlsplit(public_url).hostname or "") in _LOCAL_HOSTS


def parse_keys(raw: str) -> dict[str, bytes]:
    """``"v2:secret,v1:old"`` -> {"v2": b"secret", "v1": b"old"}, in order (the first signs)."""
    keys: dict[str, bytes] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        version, separator, secret = item.partition(":")
        version, secret = version.strip(), secret.strip()
        if not separator or not version or not secret:
            raise SettingsError('UNSUBSCRIBE_KEYS must be "<version>:<secret>" items separated by commas, like '
                                '"v2:<long random string>,v1:<the previous one>"')
        if not version.isascii() or not version.replace("-", "").replace("_", "").isalnum() or len(version) > 16:
            raise SettingsError(f"UNSUBSCRIBE_KEYS: the version {version[:20]!r} must be up to 16 letters, digits, "
                                "'-' or '_'")
        if len(secret) < 16:
            raise SettingsError(f"UNSUBSCRIBE_KEYS: the secret of {version} is too short; use at least 16 random "
                                "characters (openssl rand -hex 32)")
        if version in keys:
            raise SettingsError(f"UNSUBSCRIBE_KEYS names the version {version} twice")
        keys[version] = secret.encode("utf-8")
    return keys


def _digest(key: bytes, campaign_id: int, recipient: str) -> str:
    return hmac.new(key, f"{campaign_id}.{recipient}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class UnsubscribeLinks:
    public_url: str
    keys: dict[str, bytes]
    mailto: str = ""  # the List-Unsubscribe mailbox, e.g. unsubscribe@bounces.agency.gov.sg; "": none

    @classmethod
    def from_settings(cls, settings: Settings) -> "UnsubscribeLinks":
        """The links of this deployment; refuses to start without UNSUBSCRIBE_KEYS outside local development."""
        raw = settings.unsubscribe_keys
        if not raw.strip():
            if not is_local_development(settings.public_url):
                raise SettingsError("UNSUBSCRIBE_KEYS must be set (e.g. \"v1:$(openssl rand -hex 32)\"): unsubscribe "
                                    "links are signed with it, and the development key is used only when "
                                    "PUBLIC_URL is localhost")
            raw = DEVELOPMENT_KEYS
        keys = parse_keys(raw)
        if not keys:
            raise SettingsError("UNSUBSCRIBE_KEYS holds no key")
        mailto = settings.unsubscribe_mailto
        if mailto and ("@" not in mailto or "+" in mailto.partition("@")[0] or any(c in mailto for c in "<>, ")):
            raise SettingsError("UNSUBSCRIBE_MAILTO must be a plain address like unsubscribe@bounces.agency.gov.sg "
                                "(without '+': the link's proof is added after a '+')")
        return cls(settings.public_url.rstrip("/"), keys, mailto)

    @property
    def version(self) -> str:
        return next(iter(self.keys))

    def sign(self, campaign_id: int, recipient: str) -> tuple[str, str]:
        """(version, hash) of a recipient's link, with the current key."""
        version = self.version
        return version, _digest(self.keys[version], campaign_id, recipient)

    def verify(self, campaign_id: int, recipient: str, version: str, given: str) -> bool:
        """Whether ``given`` is the hash of this campaign and recipient under the key ``version``."""
        key = self.keys.get(version)
        if key is None or not isinstance(given, str) or len(given) > 128:
            return False
        expected = _digest(key, campaign_id, recipient)
        if len(given) == MAILTO_HASH_CHARACTERS:  # the shortened hash of a mailto local part
            expected = expected[:MAILTO_HASH_CHARACTERS]
        return hmac.compare_digest(expected.encode(), given.lower().encode())

    def url(self, campaign_id: int, recipient: str) -> str:
        version, digest = self.sign(campaign_id, recipient)
        return f"{self.public_url}{path(campaign_id, recipient)}?v={version}&h={digest}"

    def mailto_address(self, campaign_id: int, recipient: str) -> str | None:
        """``unsubscribe+<campaign>.<version>.<hash>@domain``; None when no UNSUBSCRIBE_MAILTO is set."""
        if not self.mailto:
            return None
        local, _, domain = self.mailto.rpartition("@")
        version, digest = self.sign(campaign_id, recipient)
        return f"{local}+{campaign_id}.{version}.{digest[:MAILTO_HASH_CHARACTERS]}@{domain}"


def path(campaign_id: int, recipient: str) -> str:
    """The page's path; the recipient is one path segment (``/`` and ``%`` escaped)."""
    return f"/unsubscribe/{campaign_id}/{quote(recipient, safe='@+')}"


def parse_mailto_token(local_part: str, prefix: str) -> tuple[int, str, str] | None:
    """(campaign id, version, hash) of a mailto local part ``<prefix>+<campaign>.<version>.<hash>``; None when it
    is not one."""
    head, plus, token = local_part.partition("+")
    if not plus or head.lower() != prefix.lower():
        return None
    campaign, _, rest = token.partition(".")
    version, _, digest = rest.rpartition(".")
    if not campaign.isdigit() or not version or len(digest) != MAILTO_HASH_CHARACTERS:
        return None
    return int(campaign), version, digest

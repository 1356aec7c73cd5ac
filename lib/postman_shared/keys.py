"""Per-purpose keys derived from the few secrets an operator sets, so that no two uses share one key.

``CALLBACK_SIGNING_KEY`` signs several unrelated things (Twilio status-callback URLs, Telegram webhook secret
tokens, VERP return paths, the pages' CSRF tokens) and ``UPLOAD_SIGNING_KEY`` the local store's upload URLs. Each use
takes its own key, HKDF-SHA256 (RFC 5869) of the operator's secret with the purpose as ``info``: a value an attacker
obtains or chooses for one purpose (a CSRF token, their own return path) says nothing about any other, and a future
purpose cannot collide with an existing one by a careless message format. The signer and the verifier both call
``purpose_key`` with the same purpose, so they always agree; changing a purpose's name invalidates its signatures,
exactly like changing the secret.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# One name per use; never rename one (every signature made with it would stop verifying).
TWILIO_STATUS_URL = "twilio-status-callback-url"
TELEGRAM_WEBHOOK_SECRET = "telegram-webhook-secret-token"  # noqa: S105 - a purpose name, not a secret
VERP_RETURN_PATH = "verp-return-path"
CSRF_TOKEN = "web-csrf-token"  # noqa: S105 - a purpose name, not a secret
UPLOAD_URL = "local-upload-url"
UPLOAD_TICKET = "recipient-upload-ticket"  # the upload page's cookie admitting a large file post (gateway)

KEY_BYTES = 32
_SALT = b"postman.gov.sg purpose keys v1"  # fixed: the secret itself is the entropy; the salt separates this scheme


@lru_cache(maxsize=64)
def purpose_key(secret: str, purpose: str) -> bytes:
    """The 32-byte key of ``purpose`` under the operator's ``secret`` (same inputs, same key, in every process)."""
    if not secret:
        raise ValueError(f"the secret for {purpose} is empty: nothing can be signed or checked with it")
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=_SALT,
                info=purpose.encode("ascii")).derive(secret.encode("utf-8"))

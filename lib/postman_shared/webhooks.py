"""Where Telegram delivers a bot's updates, and the secret that proves a delivery came from Telegram.

Registering a bot (sender-telegram's AddBot) calls setWebhook with ``PUBLIC_URL + telegram_webhook_path(id)`` and
``secret_token=telegram_webhook_secret(CALLBACK_SIGNING_KEY, id)``; Telegram then sends that secret in the header
``X-Telegram-Bot-Api-Secret-Token`` of every update, and the gateway recomputes it from the id in the path. The
secret is derived, never stored: nothing to leak from the database, and changing CALLBACK_SIGNING_KEY invalidates
every webhook at once (bots must then be registered again).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from postman_shared.keys import TELEGRAM_WEBHOOK_SECRET, purpose_key

WEBHOOK_PREFIX = "/telegram/webhook/"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret


def telegram_webhook_secret(key: str, credential_id: int) -> str:
    """HMAC-SHA256 of the credential id under the webhook key derived from ``key``, url-safe base64 without
    padding: 43 characters of ``A-Za-z0-9_-``, the alphabet Telegram allows in a secret token (1 to 256 characters)."""
    digest = hmac.new(purpose_key(key, TELEGRAM_WEBHOOK_SECRET), f"telegram-webhook:{int(credential_id)}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def telegram_webhook_path(credential_id: int) -> str:
    """``/telegram/webhook/<id>``: the gateway's route for the updates of the bot stored as credential ``id``."""
    return f"{WEBHOOK_PREFIX}{int(credential_id)}"


def is_telegram_webhook_secret(key: str, credential_id: int, presented: str | None) -> bool:
    """Whether ``presented`` is the credential's secret (constant-time comparison; missing is never valid)."""
    if not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8", "replace"),
                               telegram_webhook_secret(key, credential_id).encode("ascii"))

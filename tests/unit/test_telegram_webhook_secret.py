"""The webhook secret token: what Telegram accepts, one per credential, unforgeable without the key."""

from __future__ import annotations

import re

from postman_shared.webhooks import is_telegram_webhook_secret, telegram_webhook_path, telegram_webhook_secret

KEY = "a-long-random-callback-signing-key"


def test_the_secret_uses_only_the_characters_telegram_allows_and_fits_its_limit():
    for credential_id in (1, 42, 2**62):
        secret = telegram_webhook_secret(KEY, credential_id)
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret)
        assert len(secret) == 43  # 256 bits, url-safe base64 without padding


def test_the_secret_is_stable_and_differs_by_credential_and_by_key():
    assert telegram_webhook_secret(KEY, 7) == telegram_webhook_secret(KEY, 7)
    assert telegram_webhook_secret(KEY, 7) != telegram_webhook_secret(KEY, 8)
    assert telegram_webhook_secret(KEY, 7) != telegram_webhook_secret(KEY + "x", 7)


def test_only_the_credentials_own_secret_is_accepted():
    secret = telegram_webhook_secret(KEY, 7)
    assert is_telegram_webhook_secret(KEY, 7, secret)
    assert not is_telegram_webhook_secret(KEY, 8, secret)  # another bot's webhook
    assert not is_telegram_webhook_secret("another-key", 7, secret)
    assert not is_telegram_webhook_secret(KEY, 7, secret[:-1])
    assert not is_telegram_webhook_secret(KEY, 7, secret + "A")
    assert not is_telegram_webhook_secret(KEY, 7, "")
    assert not is_telegram_webhook_secret(KEY, 7, None)
    assert not is_telegram_webhook_secret(KEY, 7, "é" * 43)  # not ASCII: refused, not an error


def test_the_webhook_path_names_the_credential():
    assert telegram_webhook_path(42) == "/telegram/webhook/42"

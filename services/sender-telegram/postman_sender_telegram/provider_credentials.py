"""The bot a message is sent with: the user's stored Telegram credential, fetched sealed from campaign over gRPC and
opened here with the master key, bound to its owner (``credential_aad(user_id, "TELEGRAM")``). Its plaintext is the
JSON ``{"bot_token": "<id>:<secret>"}``.

A ready ``Bot`` is kept per credential id for a few minutes, so a campaign costs one fetch, not one per message, and
a removed credential stops working soon after. The token is never logged and no ``repr`` shows it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable

from postman_shared.credentials import Sealer
from postman_shared.expiring_cache import ExpiringCache
from postman_shared.stored_credentials import CampaignCredentials as CampaignCredentials
from postman_shared.stored_credentials import CredentialUnusable as CredentialUnusable
from postman_shared.stored_credentials import SealedCredential, open_sealed
from postman_shared.telegram_bot import BotApi

CHANNEL = "TELEGRAM"
CACHE_SECONDS = 300.0
# What BotFather hands out: the bot's numeric id, a colon, then (today 35) characters of url-safe base64.
TOKEN_FORM = re.compile(r"(?P<bot_id>[0-9]{1,19}):[A-Za-z0-9_-]{30,}")


def bot_id_of(token: str) -> int | None:
    """The bot's numeric id (the part before ':') when ``token`` has the form of a bot token, else None."""
    match = TOKEN_FORM.fullmatch(token)
    return int(match["bot_id"]) if match else None


def plaintext_of(token: str) -> bytes:
    """What is sealed and stored for a bot token."""
    return json.dumps({"bot_token": token}).encode()


class Bot:
    """An opened bot credential. ``api()`` is this thread's Bot API client (a ``requests.Session`` is not shared
    between threads); the token itself is not exposed."""

    def __init__(self, credential_id: int, owner_id: int, token: str, api_base: str) -> None:
        bot_id = bot_id_of(token)
        if bot_id is None:
            raise ValueError("not a bot token")
        self.credential_id = credential_id
        self.owner_id = owner_id
        self.bot_id = bot_id
        self._token = token
        self._api_base = api_base
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"Bot(credential_id={self.credential_id}, bot_id={self.bot_id})"

    def api(self) -> BotApi:
        api: BotApi | None = getattr(self._local, "api", None)
        if api is None:
            api = self._local.api = BotApi(self._token, self._api_base)
        return api


def open_bot(sealer: Sealer, credential: SealedCredential, api_base: str) -> Bot:
    """The bot sealed in ``credential`` if it is a Telegram credential; else CredentialUnusable."""
    plaintext = open_sealed(sealer, credential, CHANNEL, "a Telegram bot")
    try:
        token = json.loads(plaintext)["bot_token"]
        # The problem is named without the content: it holds the secret.
        return Bot(credential.id, credential.user_id, token, api_base)
    except (ValueError, KeyError, TypeError):
        raise CredentialUnusable("invalid_credential", f"Credential {credential.id} is not a Telegram bot "
                                                       "credential: it must be the JSON {\"bot_token\": "
                                                       "\"<id>:<secret>\"}") from None


class TelegramBots:
    """The Bot of each credential, kept for ``cache_seconds``. Thread-safe."""

    def __init__(self, credentials: CampaignCredentials, sealer: Callable[[], Sealer], api_base: str,
                 cache_seconds: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._credentials = credentials
        self._sealer = sealer  # built on first use: a missing master key fails the batch, not the start
        self._api_base = api_base
        self._bots: ExpiringCache[int, Bot] = ExpiringCache(cache_seconds, clock=clock)

    def for_message(self, credential_id: int, user_id: int) -> Bot:
        """The bot of a campaign message, which must be its owner's. Raises CredentialUnusable (the message's
        fault), ServiceError or SettingsError (passing or ours)."""
        bot = self.of_credential(credential_id)
        if bot.owner_id != user_id:
            raise CredentialUnusable("invalid_credential",
                                     f"Credential {credential_id} is not a Telegram bot of the campaign's owner")
        return bot

    def of_credential(self, credential_id: int) -> Bot:
        """The bot stored as ``credential_id``, whoever owns it (webhook updates name only the credential)."""
        def open_stored_bot() -> Bot:
            credential = self._credentials.get(credential_id)
            if credential is None:
                raise CredentialUnusable("credential_not_found", f"Credential {credential_id} does not exist")
            return open_bot(self._sealer(), credential, self._api_base)

        return self._bots.get_or_make(credential_id, open_stored_bot)

    def forget(self, credential_id: int) -> None:
        self._bots.forget(credential_id)

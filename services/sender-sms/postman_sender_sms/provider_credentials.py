"""The Twilio account a message is sent with: the user's stored credential, fetched sealed from campaign over gRPC
and opened here with the master key, bound to its owner (``credential_aad(user_id, "SMS")``).

A ready ``TwilioSender`` is kept per credential id for a few minutes, so a campaign costs one fetch, not one per
message, and a changed or removed credential is picked up soon after. The plaintext is never logged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from postman_sender_sms.twilio_transport import TwilioAccount, TwilioSender
from postman_shared.credentials import Sealer
from postman_shared.expiring_cache import ExpiringCache
from postman_shared.stored_credentials import CampaignCredentials as CampaignCredentials
from postman_shared.stored_credentials import CredentialUnusable as CredentialUnusable
from postman_shared.stored_credentials import SealedCredential, open_sealed

CHANNEL = "SMS"
CACHE_SECONDS = 300.0
_FIELDS = ("account_sid", "api_key", "api_secret", "messaging_service_sid")


def open_account(sealer: Sealer, credential: SealedCredential, user_id: int) -> TwilioAccount:
    """The Twilio account sealed in ``credential`` if it is ``user_id``'s SMS credential; else CredentialUnusable."""
    if credential.user_id != user_id:
        raise CredentialUnusable("invalid_credential",
                                 f"Credential {credential.id} is not an SMS credential of the campaign's owner")
    plaintext = open_sealed(sealer, credential, CHANNEL, "an SMS credential of the campaign's owner")
    try:
        fields = json.loads(plaintext)
        values = {name: fields[name] for name in _FIELDS}
    except (ValueError, KeyError, TypeError):
        # The problem is named without the content: it holds the secret.
        raise CredentialUnusable("invalid_credential", f"Credential {credential.id} is not a Twilio credential: "
                                 f"it must be a JSON object with {', '.join(_FIELDS)}") from None
    if not all(isinstance(value, str) and value for value in values.values()):
        raise CredentialUnusable("invalid_credential",
                                 f"Credential {credential.id} has an empty or non-text field: {', '.join(_FIELDS)} "
                                 "must all be set")
    return TwilioAccount(**values)


class TwilioSenders:
    """The TwilioSender of each credential (and the Twilio account, for status callbacks), kept for
    ``cache_seconds``. Thread-safe."""

    def __init__(self, credentials: CampaignCredentials, sealer: Callable[[], Sealer], api_base: str,
                 cache_seconds: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._credentials = credentials
        self._sealer = sealer  # built on first use: a missing master key fails the batch, not the start
        self._api_base = api_base
        self._senders: ExpiringCache[tuple[int, int], TwilioSender] = ExpiringCache(cache_seconds, clock=clock)
        self._accounts: ExpiringCache[int, TwilioAccount] = ExpiringCache(cache_seconds, clock=clock)

    def for_message(self, credential_id: int, user_id: int) -> TwilioSender:
        """Raises CredentialUnusable (the message's fault), ServiceError or SettingsError (passing or ours)."""
        def open_sender() -> TwilioSender:
            credential = self._stored(credential_id)
            return TwilioSender(open_account(self._sealer(), credential, user_id), self._api_base)

        return self._senders.get_or_make((credential_id, user_id), open_sender)

    def account(self, credential_id: int) -> TwilioAccount:
        """The Twilio account of a stored SMS credential, opened for its own owner (a status callback names the
        credential, not the user). Raises CredentialUnusable, ServiceError or SettingsError like ``for_message``."""
        def open_own_account() -> TwilioAccount:
            credential = self._stored(credential_id)
            return open_account(self._sealer(), credential, credential.user_id)

        return self._accounts.get_or_make(credential_id, open_own_account)

    def _stored(self, credential_id: int) -> SealedCredential:
        credential = self._credentials.get(credential_id)
        if credential is None:
            raise CredentialUnusable("credential_not_found", f"Credential {credential_id} does not exist")
        return credential

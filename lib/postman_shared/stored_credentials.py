"""A sender's side of a stored provider credential: fetch it sealed from campaign (``GetSealedCredential``) and open
it with the master key, bound to its owner and channel (``credential_aad``). Both senders (Twilio accounts, Telegram
bots) use this; what the plaintext holds is each sender's own business.

A credential that cannot send a message (missing, of another channel, not openable) raises ``CredentialUnusable``:
a permanent error of that message, recorded with ``code``. The sealed bytes and the plaintext are never logged.
"""

from __future__ import annotations

from dataclasses import dataclass

from postman.v1 import campaign_pb2, campaign_pb2_grpc
from postman_shared.credentials import Sealer, SealError, credential_aad
from postman_shared.grpc import client
from postman_shared.grpc.errors import ErrorCode, ServiceError

FETCH_TIMEOUT_SECONDS = 10.0


class CredentialUnusable(Exception):
    """The message names a credential that cannot send it: a permanent error of the message. ``code`` is the error
    code recorded for it."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class SealedCredential:
    id: int
    user_id: int
    channel: str
    sealed: bytes

    def __repr__(self) -> str:  # not secret, but not worth a log line either
        return f"SealedCredential(id={self.id}, user_id={self.user_id}, channel={self.channel!r})"


class CampaignCredentials:
    """CampaignService.GetSealedCredential; the channel is opened on first use."""

    def __init__(self, address: str) -> None:
        self._address = address

    def get(self, credential_id: int) -> SealedCredential | None:
        """The sealed credential, None when campaign has none with this id; ServiceError when campaign fails."""
        stub = client.stub(self._address, campaign_pb2_grpc.CampaignServiceStub)
        try:
            found = client.call(stub.GetSealedCredential,
                                campaign_pb2.GetSealedCredentialRequest(credential_id=credential_id),
                                timeout=FETCH_TIMEOUT_SECONDS)
        except ServiceError as exc:
            if exc.code == ErrorCode.NOT_FOUND:
                return None
            raise
        return SealedCredential(found.id, found.user_id, found.channel, found.sealed)


def open_sealed(sealer: Sealer, credential: SealedCredential, channel: str, what: str) -> bytes:
    """The plaintext of ``credential`` if it is a ``channel`` credential (``what`` names it in the error, e.g. "a
    Telegram bot"), opened for its owner; else CredentialUnusable."""
    if credential.channel != channel:
        raise CredentialUnusable("invalid_credential", f"Credential {credential.id} is not {what}")
    try:
        return sealer.open(credential.sealed, credential_aad(credential.user_id, channel))
    except SealError as exc:
        raise CredentialUnusable("invalid_credential", f"Credential {credential.id} does not open: {exc}") from None

"""Stored provider credentials, as the senders ask for them: sealed. Campaign keeps them but never opens them."""

from __future__ import annotations

from dataclasses import dataclass

from postman_campaign.models import Credential
from postman_shared.db import Database
from postman_shared.grpc.errors import NotFound


@dataclass(frozen=True)
class SealedCredential:
    id: int
    user_id: int
    channel: str
    sealed: bytes

    def __repr__(self) -> str:  # the sealed bytes are not secret, but they are not worth a log line either
        return f"SealedCredential(id={self.id}, user_id={self.user_id}, channel={self.channel!r})"


def get_sealed_credential(database: Database, credential_id: int) -> SealedCredential:
    """The credential row as stored (sealed); NotFound when there is none with this id."""
    with database.session() as session:
        row = session.get(Credential, credential_id)
        if row is None:
            raise NotFound("Credential")
        return SealedCredential(id=row.id, user_id=row.user_id, channel=row.channel, sealed=bytes(row.sealed))

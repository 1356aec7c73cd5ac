"""A user's verified sender addresses as campaign and sender-email check a From against them
(``sender_rule.allowed_sender``): auth's ``GetVerifiedSenders`` over gRPC. Nothing is cached, so an address removed
in Settings stops working at the next save, send or release. The channel is opened on first use."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Protocol

from postman.v1 import auth_pb2, auth_pb2_grpc
from postman_shared.grpc import client

TIMEOUT_SECONDS = 10.0


class VerifiedSenders(Protocol):
    def of_user(self, user_id: int) -> frozenset[str]:
        """The user's verified addresses, lower-cased; ServiceError (service_unavailable) when auth cannot say."""
        ...


class AuthVerifiedSenders:
    def __init__(self, auth_addr: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self._address = auth_addr
        self._timeout = timeout

    def of_user(self, user_id: int) -> frozenset[str]:
        stub = client.stub(self._address, auth_pb2_grpc.AuthServiceStub)
        reply = client.call(stub.GetVerifiedSenders, auth_pb2.GetVerifiedSendersRequest(user_id=user_id),
                            timeout=self._timeout)
        return frozenset(email.lower() for email in reply.emails)


def lookup_for(senders: VerifiedSenders, user_id: int) -> Callable[[], Collection[str]]:
    """What ``allowed_sender`` takes: asks auth at most once, and only if the From is not the default address."""
    found: list[frozenset[str]] = []

    def verified() -> Collection[str]:
        if not found:
            found.append(senders.of_user(user_id))
        return found[0]

    return verified

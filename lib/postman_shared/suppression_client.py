"""The suppression list as the senders (and the gateway, and postmanctl) reach it: SuppressionService in the
campaign process, over gRPC. The channel is opened on first use."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from postman.v1 import suppression_pb2, suppression_pb2_grpc
from postman_shared.grpc import client

SCREEN_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class NewSuppression:
    """An entry to add: ``user_id`` 0 for a global one (a hard bounce, a complaint)."""

    channel: str
    recipient: str
    user_id: int
    reason: str
    detail: str = ""
    source_campaign_id: int = 0
    source_message_id: str = ""
    created_by: str = ""


class SuppressionClient:
    def __init__(self, address: str) -> None:
        self._address = address

    def _stub(self) -> suppression_pb2_grpc.SuppressionServiceStub:
        return client.stub(self._address, suppression_pb2_grpc.SuppressionServiceStub)

    def screen(self, channel: str, items: Iterable[tuple[int, str]],
               transactional: bool = False) -> dict[tuple[int, str], suppression_pb2.Screened]:
        """(owner, recipient) -> why it is suppressed, for the suppressed items only (ServiceError on failure)."""
        request = suppression_pb2.ScreenRecipientsRequest(
            channel=channel, transactional=transactional,
            items=[suppression_pb2.ScreenItem(user_id=owner, recipient=recipient) for owner, recipient in set(items)])
        if not request.items:
            return {}
        reply = client.call(self._stub().ScreenRecipients, request, timeout=SCREEN_TIMEOUT_SECONDS)
        return {(s.user_id, s.recipient): s for s in reply.suppressed}

    def add(self, entries: Sequence[NewSuppression]) -> int:
        """Adds the entries not there yet; returns how many were added (ServiceError on failure)."""
        if not entries:
            return 0
        request = suppression_pb2.AddSuppressionsRequest(entries=[
            suppression_pb2.Suppression(channel=e.channel, recipient=e.recipient, user_id=e.user_id, reason=e.reason,
                                        detail=e.detail, source_campaign_id=e.source_campaign_id,
                                        source_message_id=e.source_message_id, created_by=e.created_by)
            for e in entries])
        return int(client.call(self._stub().AddSuppressions, request, timeout=SCREEN_TIMEOUT_SECONDS).added)

    def unsubscribe(self, campaign_id: int, recipient: str, via: str,
                    reason: str = "") -> suppression_pb2.UnsubscribeState:
        return client.call(self._stub().Unsubscribe, suppression_pb2.UnsubscribeRequest(
            campaign_id=campaign_id, recipient=recipient, reason=reason, via=via))

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

    def list(self, user_id: int = 0, channel: str = "", recipient: str = "", reason: str = "", limit: int = 50,
             offset: int = 0) -> tuple[Sequence[suppression_pb2.Suppression], int]:
        """A page of the entries ``user_id`` may see (0: support, every entry), newest first, and how many match in
        all. An empty filter matches everything; ``recipient`` is normalised by the service (ServiceError on
        failure)."""
        request = suppression_pb2.ListSuppressionsRequest(user_id=user_id, channel=channel, recipient=recipient,
                                                          reason=reason, limit=limit, offset=offset)
        reply = client.call(self._stub().ListSuppressions, request, timeout=SCREEN_TIMEOUT_SECONDS)
        return reply.entries, int(reply.total_count)

    def lift(self, entry_id: int, user_id: int = 0) -> suppression_pb2.Suppression:
        """Removes one entry and returns it: support (``user_id`` 0) any entry, an officer only one they may lift;
        ServiceError ``not_found`` otherwise."""
        return client.call(self._stub().LiftSuppression,
                           suppression_pb2.LiftSuppressionRequest(id=entry_id, user_id=user_id),
                           timeout=SCREEN_TIMEOUT_SECONDS)

    def unsubscribe(self, campaign_id: int, recipient: str, via: str,
                    reason: str = "") -> suppression_pb2.UnsubscribeState:
        return client.call(self._stub().Unsubscribe, suppression_pb2.UnsubscribeRequest(
            campaign_id=campaign_id, recipient=recipient, reason=reason, via=via))

"""SuppressionService over gRPC (served by the campaign process): parse, call the use case, convert. Nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from postman.v1 import suppression_pb2, suppression_pb2_grpc
from postman_campaign import suppression, unsubscribes
from postman_campaign.models import Suppression
from postman_campaign.unsubscribes import UnsubscribeView
from postman_shared.db import Database
from postman_shared.grpc.errors import InvalidArgument
from postman_shared.settings import Settings
from postman_shared.timestamps import to_timestamp

MAX_SCREEN_ITEMS = 5000


def _entry(e: Suppression, can_lift: bool = False, show_source: bool = True) -> suppression_pb2.Suppression:
    return suppression_pb2.Suppression(
        id=e.id, channel=e.channel, recipient=e.recipient, user_id=e.user_id, reason=e.reason,
        detail=e.detail if show_source else "", source_campaign_id=(e.source_campaign_id or 0) if show_source else 0,
        source_message_id=(e.source_message_id or "") if show_source else "",
        created_by=e.created_by if show_source else "", created_at=to_timestamp(e.created_at), can_lift=can_lift)


def _state(view: UnsubscribeView) -> suppression_pb2.UnsubscribeState:
    return suppression_pb2.UnsubscribeState(
        campaign_id=view.campaign_id, recipient=view.recipient, unsubscribed=view.unsubscribed, reason=view.reason,
        created_at=to_timestamp(view.created_at), created=view.created, sender_name=view.sender_name,
        suppresses=view.suppresses)


class SuppressionServicer(suppression_pb2_grpc.SuppressionServiceServicer):
    def __init__(self, database: Database, settings: Settings) -> None:
        self._database = database
        self._region = settings.default_phone_region
        self._unsubscribes_suppress = settings.unsubscribe_scope == "owner"

    def ScreenRecipients(self, request: suppression_pb2.ScreenRecipientsRequest,
                         context: Any) -> suppression_pb2.ScreenRecipientsResponse:
        if len(request.items) > MAX_SCREEN_ITEMS:
            raise InvalidArgument(f"at most {MAX_SCREEN_ITEMS} recipients at a time")
        found = suppression.screen_recipients(self._database, request.channel,
                                              [(i.user_id, i.recipient) for i in request.items],
                                              request.transactional, self._unsubscribes_suppress)
        return suppression_pb2.ScreenRecipientsResponse(suppressed=[
            suppression_pb2.Screened(user_id=s.user_id, recipient=s.recipient, outcome=s.outcome, reason=s.reason,
                                     since=to_timestamp(s.since)) for s in found])

    def AddSuppressions(self, request: suppression_pb2.AddSuppressionsRequest,
                        context: Any) -> suppression_pb2.AddSuppressionsResponse:
        entries = [suppression.Entry(e.channel, e.recipient, e.user_id, e.reason, e.detail, e.source_campaign_id,
                                     e.source_message_id, e.created_by) for e in request.entries]
        return suppression_pb2.AddSuppressionsResponse(added=suppression.suppress(self._database, entries,
                                                                                  self._region))

    def ListSuppressions(self, request: suppression_pb2.ListSuppressionsRequest,
                         context: Any) -> suppression_pb2.ListSuppressionsResponse:
        listed, total = suppression.entries_page(
            self._database, request.user_id, request.channel, request.recipient, request.reason,
            request.limit or suppression.DEFAULT_LIST, request.offset, self._region)
        return suppression_pb2.ListSuppressionsResponse(
            entries=[_entry(item.entry, item.can_lift, item.show_source) for item in listed], total_count=total)

    def LiftSuppression(self, request: suppression_pb2.LiftSuppressionRequest,
                        context: Any) -> suppression_pb2.Suppression:
        return _entry(suppression.lift_entry(self._database, request.id, request.user_id), can_lift=True)

    def GetUnsubscribeState(self, request: suppression_pb2.UnsubscribeRequest,
                            context: Any) -> suppression_pb2.UnsubscribeState:
        return _state(unsubscribes.state(self._database, request.campaign_id, request.recipient,
                                         self._unsubscribes_suppress))

    def Unsubscribe(self, request: suppression_pb2.UnsubscribeRequest,
                    context: Any) -> suppression_pb2.UnsubscribeState:
        return _state(unsubscribes.unsubscribe(self._database, request.campaign_id, request.recipient,
                                               request.reason, request.via or "page", self._unsubscribes_suppress))

    def Resubscribe(self, request: suppression_pb2.UnsubscribeRequest,
                    context: Any) -> suppression_pb2.UnsubscribeState:
        return _state(unsubscribes.resubscribe(self._database, request.campaign_id, request.recipient,
                                               self._unsubscribes_suppress))

    def StreamUnsubscribes(self, request: suppression_pb2.StreamUnsubscribesRequest,
                           context: Any) -> Iterator[suppression_pb2.UnsubscribeBatch]:
        for batch in unsubscribes.stream(self._database, request.campaign_id):
            yield suppression_pb2.UnsubscribeBatch(unsubscribes=[_state(view) for view in batch])

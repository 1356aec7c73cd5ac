"""TransactionalSmsService over gRPC: parse, call the use case in ``transactional``, convert."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from postman.v1 import senders_pb2, senders_pb2_grpc
from postman_sender_sms import transactional
from postman_sender_sms.models import TransactionalSms
from postman_sender_sms.provider_credentials import TwilioSenders
from postman_shared import message_listing
from postman_shared.db import Database
from postman_shared.timestamps import to_timestamp


def message(row: TransactionalSms) -> senders_pb2.TransactionalSms:
    return senders_pb2.TransactionalSms(
        id=row.id, credentials_label=row.credentials_label, recipient=row.recipient, body=row.body,
        status=row.status, error_code=row.error_code or "", created_at=to_timestamp(row.created_at),
        updated_at=to_timestamp(row.updated_at), accepted_at=to_timestamp(row.accepted_at),
        sent_at=to_timestamp(row.sent_at), delivered_at=to_timestamp(row.delivered_at),
        errored_at=to_timestamp(row.errored_at))


def _time(value: Timestamp, present: bool) -> datetime | None:
    return value.ToDatetime(tzinfo=timezone.utc) if present else None


class TransactionalSmsServicer(senders_pb2_grpc.TransactionalSmsServiceServicer):
    def __init__(self, database: Database, senders: TwilioSenders, region: str,
                 status_callback: Callable[[int, int], str | None]) -> None:
        self._database = database
        self._senders = senders
        self._region = region
        self._status_callback = status_callback

    def SendTransactionalSms(self, request: senders_pb2.SendTransactionalSmsRequest,
                             context: Any) -> senders_pb2.TransactionalSms:
        to_send = transactional.SmsToSend(user_id=request.user_id, credential_id=request.credential_id,
                                          credentials_label=request.credentials_label, recipient=request.recipient,
                                          body=request.body, simulated=request.simulated)
        return message(transactional.send(self._database, self._senders, to_send, self._region,
                                          self._status_callback))

    def ListTransactionalSms(self, request: senders_pb2.ListTransactionalSmsRequest,
                             context: Any) -> senders_pb2.ListTransactionalSmsResponse:
        window = request.created_at
        query = transactional.check_query(message_listing.MessageQuery(
            user_id=request.user_id, limit=request.limit or 10, offset=request.offset,
            statuses=tuple(request.status), sort_by=tuple(request.sort_by) or ("created_at",),
            created_at=message_listing.TimeRange(
                gt=_time(window.gt, window.HasField("gt")), gte=_time(window.gte, window.HasField("gte")),
                lt=_time(window.lt, window.HasField("lt")), lte=_time(window.lte, window.HasField("lte")))))
        rows, has_more = transactional.list_messages(self._database, query)
        return senders_pb2.ListTransactionalSmsResponse(messages=[message(r) for r in rows], has_more=has_more)

    def GetTransactionalSms(self, request: senders_pb2.GetTransactionalSmsRequest,
                            context: Any) -> senders_pb2.TransactionalSms:
        return message(transactional.get(self._database, request.user_id, request.id))

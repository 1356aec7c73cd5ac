"""TransactionalEmailService over gRPC: parse, call the use case in ``transactional``, convert."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from postman.v1 import transactional_email_pb2 as pb
from postman.v1 import transactional_email_pb2_grpc as pb_grpc
from postman_sender_email import transactional
from postman_sender_email.models import TransactionalEmail
from postman_sender_email.transactional_mail import Attachment
from postman_sender_email.transports import EmailTransport
from postman_shared import message_listing
from postman_shared.db import Database
from postman_shared.sender_client import VerifiedSenders
from postman_shared.timestamps import to_timestamp


def message(row: TransactionalEmail, status: str | None = None) -> pb.TransactionalEmail:
    """The row as the API shows it; ``status`` overrides the stored one (the answer of a send is ACCEPTED)."""
    metadata = row.attachments_metadata or []
    return pb.TransactionalEmail(
        id=row.id, from_address=row.from_address, recipient=row.recipient, cc=row.cc or [], bcc=row.bcc or [],
        reply_to=row.reply_to or "", subject=row.subject, body=row.body, tag=row.tag or "",
        classification=row.classification or "", disable_tracking=row.disable_tracking,
        attachments=[pb.AttachmentMetadata(file_name=str(m["fileName"]), file_size=int(str(m["fileSize"])),
                                           hash=str(m["hash"])) for m in metadata],
        has_attachments=row.attachments_metadata is not None, status=status or row.status,
        error_code=row.error_code or "", error_sub_type=row.error_sub_type or "",
        created_at=to_timestamp(row.created_at), updated_at=to_timestamp(row.updated_at),
        accepted_at=to_timestamp(row.accepted_at), sent_at=to_timestamp(row.sent_at),
        delivered_at=to_timestamp(row.delivered_at), opened_at=to_timestamp(row.opened_at))


def _time(value: Timestamp, present: bool) -> datetime | None:
    return value.ToDatetime(tzinfo=timezone.utc) if present else None


class TransactionalEmailServicer(pb_grpc.TransactionalEmailServiceServicer):
    def __init__(self, database: Database, transport: EmailTransport, default_from: str,
                 screen: transactional.Screen | None = None, senders: VerifiedSenders | None = None) -> None:
        self._screen = screen
        self._senders = senders
        self._database = database
        self._transport = transport
        self._default_from = default_from

    def SendTransactionalEmail(self, request: pb.SendTransactionalEmailRequest,
                               context: Any) -> pb.TransactionalEmail:
        to_send = transactional.EmailToSend(
            user_id=request.user_id, recipient=request.recipient, subject=request.subject, body=request.body,
            from_address=request.from_address, cc=list(request.cc), bcc=list(request.bcc),
            reply_to=request.reply_to, tag=request.tag, classification=request.classification,
            disable_tracking=request.disable_tracking,
            attachments=[Attachment(a.file_name, a.content_type or "application/octet-stream", a.content)
                         for a in request.attachments], simulated=request.simulated)
        row = transactional.send(self._database, self._transport, to_send, self._default_from, self._screen,
                                 self._senders)
        return message(row)

    def ListTransactionalEmails(self, request: pb.ListTransactionalEmailsRequest,
                                context: Any) -> pb.ListTransactionalEmailsResponse:
        window = request.created_at
        query = transactional.check_query(message_listing.MessageQuery(
            user_id=request.user_id, limit=request.limit or 10, offset=request.offset,
            statuses=tuple(request.status), sort_by=tuple(request.sort_by) or ("created_at",), tag=request.tag,
            created_at=message_listing.TimeRange(
                gt=_time(window.gt, window.HasField("gt")), gte=_time(window.gte, window.HasField("gte")),
                lt=_time(window.lt, window.HasField("lt")), lte=_time(window.lte, window.HasField("lte")))))
        rows, has_more = transactional.list_messages(self._database, query)
        return pb.ListTransactionalEmailsResponse(messages=[message(r) for r in rows], has_more=has_more)

    def GetTransactionalEmail(self, request: pb.GetTransactionalEmailRequest,
                              context: Any) -> pb.TransactionalEmail:
        return message(transactional.get(self._database, request.user_id, request.id))

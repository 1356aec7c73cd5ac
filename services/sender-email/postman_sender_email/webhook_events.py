"""Transactional email status for the sender's client webhook (issue 16): each status a transactional email moves
to (ACCEPTED or refused at the send, SENT, DELIVERED, OPENED, BOUNCED, COMPLAINT) is written, in the transaction
that moves it, to ``sender_email_outbox`` as an ``email.status`` event; the relay (``OutboxRelay`` in bootstrap)
publishes it on ``client.webhooks`` and stats delivers it when the user has a transactional webhook."""

from __future__ import annotations

from sqlalchemy.orm import Session

from postman_sender_email.models import Base, TransactionalEmail
from postman_shared import client_webhooks
from postman_shared.client_webhooks import ClientWebhookEvent, iso
from postman_shared.outbox import outbox_table
from postman_shared.timestamps import utcnow
from postman_shared.transactional_statuses import TransactionalEmailStatus

outbox = outbox_table(Base.metadata, "sender_email_outbox")


def status_changed(session: Session, row: TransactionalEmail, simulated: bool = False) -> None:
    """``row`` (flushed, with its id) has just moved to ``row.status`` (or was refused: UNSENT with an error)."""
    step = row.status.lower() if not (row.status == TransactionalEmailStatus.UNSENT and row.error_code) else "refused"
    client_webhooks.emit(session, outbox, ClientWebhookEvent(
        event_id=f"email-{row.id}-{step}", user_id=row.user_id, kind=client_webhooks.TRANSACTIONAL,
        type="email.status", occurred_at=utcnow().isoformat(),
        data={"channel": "email", "id": str(row.id), "status": row.status, "recipient": row.recipient, "tag": row.tag,
              "error_code": row.error_code, "error_sub_type": row.error_sub_type, "simulated": simulated,
              "created_at": iso(row.created_at), "accepted_at": iso(row.accepted_at), "sent_at": iso(row.sent_at),
              "delivered_at": iso(row.delivered_at), "opened_at": iso(row.opened_at)}))

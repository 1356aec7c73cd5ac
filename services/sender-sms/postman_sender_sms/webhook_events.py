"""Transactional SMS status for the sender's client webhook (issue 16): each status a transactional SMS moves to
(ACCEPTED or ERROR at the send, then SENT, DELIVERED or ERROR by Twilio's receipts) is written, in the transaction
that moves it, to ``sender_sms_outbox`` as an ``sms.status`` event; the relay (bootstrap) publishes it on
``client.webhooks`` and stats delivers it when the user has a transactional webhook."""

from __future__ import annotations

from sqlalchemy.orm import Session

from postman_sender_sms.models import Base, TransactionalSms
from postman_shared import client_webhooks
from postman_shared.client_webhooks import ClientWebhookEvent, iso
from postman_shared.outbox import outbox_table
from postman_shared.timestamps import utcnow

outbox = outbox_table(Base.metadata, "sender_sms_outbox")


def status_changed(session: Session, row: TransactionalSms, simulated: bool = False) -> None:
    """``row`` (flushed, with its id) has just moved to ``row.status``."""
    client_webhooks.emit(session, outbox, ClientWebhookEvent(
        event_id=f"sms-{row.id}-{row.status.lower()}", user_id=row.user_id, kind=client_webhooks.TRANSACTIONAL,
        type="sms.status", occurred_at=utcnow().isoformat(),
        data={"channel": "sms", "id": str(row.id), "status": row.status, "recipient": row.recipient,
              "credentials_label": row.credentials_label, "error_code": row.error_code, "simulated": simulated,
              "created_at": iso(row.created_at), "accepted_at": iso(row.accepted_at), "sent_at": iso(row.sent_at),
              "delivered_at": iso(row.delivered_at), "errored_at": iso(row.errored_at)}))

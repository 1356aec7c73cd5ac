"""The ``owner.notices`` entrypoint: emails campaign owners what campaign tells them (their campaign finished or was
halted, the weekly digest of unsubscribes). Auth is the one service that knows each owner's address.

Per batch: one query for the owners' addresses, the audit events the notices carry (a halt is in the trail with the
email that reported it; one already recorded for the same notice is not recorded twice), one commit, then one
confirmed publish of the PriorityEmails on ``email.priority`` under each notice's id (sender-email sends an id once).
A crash between the commit and the publish redelivers the batch: the audit events are found recorded, the emails go.
A disabled owner's notices are recorded but not emailed.
"""

from __future__ import annotations

from sqlalchemy import select

from postman_auth import audit
from postman_auth.models import AuditEvent, User
from postman_shared.broker import Delivery
from postman_shared.broker.batches import decode_each
from postman_shared.broker.publisher import OutgoingMessage, Publisher
from postman_shared.broker.topology import EMAIL_PRIORITY
from postman_shared.db import Database
from postman_shared.logging import get_logger
from postman_shared.messages import OwnerNotice, PriorityEmail

SYSTEM_IP = "system"  # the ``ip`` of actions taken by the platform itself (a halt)

log = get_logger(component="owner-notices")


def decode(batch: list[Delivery]) -> tuple[list[OwnerNotice], list[Delivery]]:
    decoded, malformed = decode_each(batch, OwnerNotice.from_dict, "owner notice", batches=False)
    return [notice for _, notice in decoded], malformed


class NoticeHandler:
    def __init__(self, database: Database, publisher: Publisher, sender: str) -> None:
        self._database = database
        self._publisher = publisher
        self._sender = sender

    def __call__(self, batch: list[Delivery]) -> list[Delivery]:
        notices, malformed = decode(batch)
        if notices:
            self.deliver(notices)
        return malformed

    def deliver(self, notices: list[OwnerNotice]) -> int:
        """Records the notices' audit events and emails their owners; returns how many emails were published."""
        unique = list({n.notice_id: n for n in notices}.values())
        with self._database.unit_of_work() as session:
            owners = {row.id: row for row in session.execute(
                select(User.id, User.email, User.disabled_at).where(User.id.in_({n.user_id for n in unique})))}
            audited = [n for n in unique if n.audit_action]
            recorded = set(session.scalars(select(AuditEvent.details["notice_id"].astext).where(
                AuditEvent.action.in_({n.audit_action for n in audited}),
                AuditEvent.details["notice_id"].astext.in_([n.notice_id for n in audited])))) if audited else set()
            for notice in audited:
                if notice.notice_id not in recorded:
                    owner = owners.get(notice.user_id)
                    audit.record(session, notice.audit_action, user_id=notice.user_id,
                                 email=owner.email if owner else None, target_type=notice.audit_target_type or None,
                                 target_id=notice.audit_target_id or None, ip=SYSTEM_IP,
                                 details={**(notice.audit_details or {}), "notice_id": notice.notice_id})
        emails = []
        for notice in unique:
            owner = owners.get(notice.user_id)
            if owner is None or owner.disabled_at is not None:
                log.warning("owner notice not emailed: no such owner or disabled", notice_id=notice.notice_id,
                            user_id=notice.user_id)
                continue
            email = PriorityEmail(message_id=notice.notice_id, to=owner.email, sender=self._sender,
                                  subject=notice.subject, body=notice.body)
            emails.append(OutgoingMessage(EMAIL_PRIORITY, email.to_dict(), email.message_id))
        self._publisher.publish(emails)
        log.info("owner notices emailed", notices=len(unique), emailed=len(emails))
        return len(emails)

"""Owner notices, from the ``owner.notices`` queue to the owner's inbox: auth (running, consuming the real queue)
addresses each one to its owner on the priority path, under the notice's own id, and records a halt in the audit
trail once however often the notice is delivered."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from postman_auth import api_keys, users
from postman_auth.models import AuditEvent
from postman_shared.broker import OutgoingMessage, Publisher
from postman_shared.broker.topology import OWNER_NOTICES
from postman_shared.messages import OwnerNotice
from tests.integration.auth.conftest import new_address
from tests.integration.stats.support import wait_until


def _publish(stores, *notices: OwnerNotice) -> None:
    publisher = Publisher(stores.amqp_url, app_id="test")
    try:
        publisher.publish([OutgoingMessage(OWNER_NOTICES, n.to_dict(), n.message_id) for n in notices])
    finally:
        publisher.close()


def _owner(database, email: str) -> int:
    with database.unit_of_work() as session:
        return api_keys.get_or_create_user(session, email).id


def _audited(database, notice_id: str) -> list[AuditEvent]:
    with database.session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.details["notice_id"].astext == notice_id)).all()
        for event in events:
            session.expunge(event)
        return list(events)


def test_a_halt_notice_is_emailed_to_the_owner_and_audited_once_however_often_it_comes(auth, stores, database):
    email = new_address()
    owner = _owner(database, email)
    notice = OwnerNotice(notice_id=f"notice-halted-{owner}", user_id=owner, subject="Campaign halted: Flu jabs",
                         body="<p>Sending was halted: 12 of 97 bounced.</p>", audit_action="campaign.halted",
                         audit_target_type="campaign", audit_target_id=77, audit_details={"reason": "12 of 97"})

    _publish(stores, notice, notice)

    sent = auth.priority_email(email)
    assert (sent.message_id, sent.subject, sent.body) == (notice.notice_id, notice.subject, notice.body)
    wait_until(lambda: len(_audited(database, notice.notice_id)) == 1, what="the halt in the audit trail")
    [event] = _audited(database, notice.notice_id)
    assert (event.action, event.user_id, event.target_type, event.target_id, event.ip) == (
        "campaign.halted", owner, "campaign", "77", "system")
    assert event.details["reason"] == "12 of 97"
    _publish(stores, notice)
    assert auth.priority_email(email).message_id == notice.notice_id  # a repeat is emailed under the same id...
    assert len(_audited(database, notice.notice_id)) == 1  # ...but recorded once


def test_a_disabled_owners_notice_is_not_emailed(auth, stores, database):
    email, other = new_address(), new_address()
    owner, active = _owner(database, email), _owner(database, other)
    with database.unit_of_work() as session:
        users.disable(session, email, "cli", datetime.now(timezone.utc))

    _publish(stores, OwnerNotice(notice_id=f"notice-finished-{owner}", user_id=owner, subject="Done", body="<p>x</p>"),
             OwnerNotice(notice_id=f"notice-finished-{active}", user_id=active, subject="Done", body="<p>y</p>"))

    assert auth.priority_email(other).message_id == f"notice-finished-{active}"
    with pytest.raises(AssertionError, match="no priority email"):
        auth.priority_email(email, timeout=1.0)

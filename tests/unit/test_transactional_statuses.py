"""A transactional message's statuses are stored and sent as these strings, and the API lists them in this order:
pinned, so a rename (which would need a migration and a contract change) cannot slip in. Each sender ranks every
status of its family (an event or receipt moves a message only forward)."""

from __future__ import annotations

from postman_sender_email import transactional as email
from postman_sender_sms import transactional as sms
from postman_shared.transactional_statuses import TransactionalEmailStatus, TransactionalSmsStatus


def test_the_email_statuses_are_the_stored_strings_in_the_apis_order() -> None:
    assert [s.value for s in TransactionalEmailStatus] == [
        "UNSENT", "ACCEPTED", "SENT", "BOUNCED", "DELIVERED", "OPENED", "COMPLAINT"]
    assert email.STATUSES == tuple(TransactionalEmailStatus)


def test_the_sms_statuses_are_the_stored_strings_in_the_apis_order() -> None:
    assert [s.value for s in TransactionalSmsStatus] == ["UNSENT", "ACCEPTED", "SENT", "DELIVERED", "ERROR"]
    assert sms.STATUSES == tuple(TransactionalSmsStatus)


def test_each_sender_ranks_every_status_of_its_family() -> None:
    assert set(email._RANK) == set(TransactionalEmailStatus)
    assert set(sms._RANK) == set(TransactionalSmsStatus)


def test_a_status_equals_its_string() -> None:
    assert TransactionalEmailStatus.ACCEPTED == "ACCEPTED"
    assert f"{TransactionalSmsStatus.ERROR}" == "ERROR"

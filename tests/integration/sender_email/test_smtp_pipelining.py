"""The SMTP transport with a server that offers PIPELINING (RFC 2920): MAIL, RCPT and DATA go in one write, the
message data in a second, and every reply still decides the outcome as it does one command at a time."""

from __future__ import annotations

import smtplib

import pytest

from postman_sender_email.transports.smtp import SmtpTransport
from tests.fakes.smtp import FakeSmtpServer
from tests.integration.sender_email.support import rendered


@pytest.fixture
def writes(monkeypatch):
    """Counts the writes every SMTP connection makes (smtplib.SMTP.send), by connection."""
    counted: list[int] = []
    original = smtplib.SMTP.send

    def send(self, s):
        counted.append(1)
        return original(self, s)

    monkeypatch.setattr(smtplib.SMTP, "send", send)
    return counted


def _transport(smtp: FakeSmtpServer) -> SmtpTransport:
    return SmtpTransport("127.0.0.1", smtp.port, connections=1, retry_pause=0.0)


@pytest.mark.parametrize("pipelining, writes_per_message", [(True, 2), (False, 4)])
def test_a_message_takes_two_writes_with_pipelining_and_four_without(pipelining, writes_per_message, writes):
    emails = rendered(1, 5)
    with FakeSmtpServer(pipelining=pipelining) as smtp:
        transport = _transport(smtp)
        try:
            transport.send_batch(emails[:1])  # opens the connection (EHLO) first
            writes.clear()
            outcomes = transport.send_batch(emails[1:])
        finally:
            transport.close()
        received = smtp.messages

    assert [o.status for o in outcomes] == ["SENT"] * 4
    assert len(writes) == writes_per_message * 4 + 1  # + QUIT
    assert sorted(m.rcpt_tos[0] for m in received) == sorted(e.to for e in emails)
    for email in emails:
        (message,) = [m for m in received if m.rcpt_tos == (email.to,)]
        assert message.mail_from == "donotreply@mail.postman.gov.sg"
        assert message.parsed()["Subject"] == email.subject
        assert message.parsed().get_content() == email.body


def test_pipelined_a_refused_recipient_is_an_error_and_the_next_message_on_the_connection_is_sent():
    emails = rendered(1, 3)
    with FakeSmtpServer(pipelining=True, refuse={emails[1].to: "User unknown"}) as smtp:
        transport = _transport(smtp)
        try:
            outcomes = transport.send_batch(emails)
        finally:
            transport.close()
        received = smtp.messages

    assert [o.status for o in outcomes] == ["SENT", "ERROR", "SENT"]
    assert outcomes[1].error_code == "smtp_550" and "User unknown" in outcomes[1].reason
    assert [m.rcpt_tos for m in received] == [(emails[0].to,), (emails[2].to,)]


def test_pipelined_a_deferred_recipient_is_sent_by_the_quick_retry_and_a_lasting_deferral_is_transient():
    emails = rendered(1, 2)
    with FakeSmtpServer(pipelining=True, defer={emails[0].to: 1, emails[1].to: 99}) as smtp:
        transport = _transport(smtp)
        try:
            outcomes = transport.send_batch(emails)
        finally:
            transport.close()
        received = smtp.messages

    assert outcomes[0].status == "SENT"
    assert (outcomes[1].status, outcomes[1].error_code, outcomes[1].transient) == ("ERROR", "smtp_unavailable", True)
    assert [m.rcpt_tos for m in received] == [(emails[0].to,)]


def test_pipelined_an_address_smtp_cannot_carry_is_an_error_and_the_rest_is_sent():
    emails = rendered(1, 2)
    emails[0] = rendered(1, 1, to="用户@例子.广告")[0]
    with FakeSmtpServer(pipelining=True) as smtp:
        transport = _transport(smtp)
        try:
            outcomes = transport.send_batch(emails)
        finally:
            transport.close()
        received = smtp.messages

    assert (outcomes[0].status, outcomes[0].error_code) == ("ERROR", "invalid_recipient")
    assert outcomes[1].status == "SENT"
    assert [m.rcpt_tos for m in received] == [(emails[1].to,)]

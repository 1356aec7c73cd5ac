"""The bounce mailbox reader against a real IMAP server (Dovecot) and a real broker: reports become events on
``email.events``, handled messages are deleted only after the broker confirmed them, what cannot be read is left
\\Seen for a person, and an unreachable mailbox never stops the reader."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from postman_sender_email.bounce_mailbox import BounceMailbox, MailboxUnavailable, PollReport, from_settings
from postman_sender_email.return_path import address_for
from postman_shared.broker import Publisher, PublishError
from postman_shared.broker.topology import EMAIL_EVENTS
from postman_shared.messages import EmailEvent
from postman_shared.settings import Settings, SettingsError
from postman_shared.unsubscribe_links import UnsubscribeLinks
from tests.support.imap import ImapServer, dovecot

SAMPLES = Path(__file__).parents[2] / "testdata" / "bounces"
BOUNCE_ADDRESS = "bounce@bounces.agency.gov.sg"
MAILTO = "unsubscribe@bounces.agency.gov.sg"
PLACEHOLDERS = {  # the unsigned return paths the samples carry
    "dsn_hard_bounce": b"bounce+6f1c2a9e-0001@bounces.agency.gov.sg",
    "dsn_soft_bounce": b"bounce+6f1c2a9e-0002@bounces.agency.gov.sg",
    "arf_complaint": b"bounce+6f1c2a9e-0003@bounces.agency.gov.sg",
}
AUTO_REPLY = b"From: Tan <tan@example.gov.sg>\nTo: bounce@bounces.agency.gov.sg\nSubject: Out of office\n\nOn leave.\n"


@pytest.fixture
def imap_server() -> Iterator[ImapServer]:
    with dovecot() as server:
        yield server


@pytest.fixture
def publisher(stores) -> Iterator[Publisher]:
    publisher = Publisher(stores.amqp_url, app_id="test-bounce-mailbox")
    yield publisher
    publisher.close()


def sample(name: str, delivery_id: str, key: str) -> bytes:
    """A sample report naming ``delivery_id`` by its signed return path."""
    raw = (SAMPLES / f"{name}.eml").read_bytes()
    return raw.replace(PLACEHOLDERS[name], address_for(BOUNCE_ADDRESS, delivery_id, key).encode())


def reader(server: ImapServer, settings: Settings, publisher, unsubscribe=None, poll_seconds: int = 1) \
        -> BounceMailbox:
    return BounceMailbox(server.url, BOUNCE_ADDRESS, settings.callback_signing_key, publisher, unsubscribe, None, "",
                         poll_seconds)


def published(channel) -> dict[str, EmailEvent]:
    """The events waiting on ``email.events``, by their message id (taken off the queue)."""
    events: dict[str, EmailEvent] = {}
    while True:
        method, properties, body = channel.basic_get(EMAIL_EVENTS, auto_ack=True)
        if method is None:
            return events
        events[properties.message_id] = EmailEvent.from_dict(json.loads(body))


def counted(kind: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("postman_email_bounce_reports_total", {"kind": kind, "outcome": outcome}) or 0.0


# -- reading reports ------------------------------------------------------------------------------------------------


def test_a_poll_publishes_the_reports_events_deletes_what_it_handled_and_leaves_the_unreadable_seen(
        imap_server, settings, publisher, amqp_channel):
    key = settings.callback_signing_key
    forged = sample("dsn_hard_bounce", "5009", "not-our-key")
    imap_server.append(sample("dsn_hard_bounce", "5001", key), sample("dsn_soft_bounce", "5002.3", key),
                       sample("arf_complaint", "5003", key), forged, AUTO_REPLY)
    before = {label: counted(*label) for label in [("bounce", "applied"), ("delay", "applied"),
                                                   ("complaint", "applied"), ("bounce", "forged"),
                                                   ("unknown", "unreadable")]}
    mailbox = reader(imap_server, settings, publisher)

    report = mailbox.poll_once()

    assert report == PollReport(read=5, applied=3, forged=1, unreadable=1, retried=0, events=3)
    events = published(amqp_channel)
    assert sorted(events) == ["email-report-5001-Bounce", "email-report-5002.3-Bounce", "email-report-5003-Complaint"]
    hard, soft, complaint = (events["email-report-5001-Bounce"], events["email-report-5002.3-Bounce"],
                             events["email-report-5003-Complaint"])
    assert (hard.provider_message_id, hard.bounce_type, hard.bounce_sub_type, hard.recipients) == (
        "5001", "Permanent", "NoEmail", ("no.such.person@example.gov.sg",))
    assert hard.occurred_at == "2026-12-03T01:15:01.000Z"
    assert (soft.delivery_id, soft.bounce_type, soft.bounce_sub_type) == ("5002.3", "Transient", "MailboxFull")
    assert (complaint.delivery_id, complaint.complaint_type, complaint.recipients) == (
        "5003", "abuse", ("raj.kumar@example.com",))
    assert imap_server.flags() == {5: {"\\Seen"}}  # only the auto-reply is left, read, for a person
    assert {label: counted(*label) - count for label, count in before.items()} == {
        ("bounce", "applied"): 1, ("delay", "applied"): 1, ("complaint", "applied"): 1, ("bounce", "forged"): 1,
        ("unknown", "unreadable"): 1}

    assert mailbox.poll_once() == PollReport()
    assert published(amqp_channel) == {}
    assert imap_server.flags() == {5: {"\\Seen"}}


def test_more_messages_than_a_batch_are_all_read_in_one_poll(imap_server, settings, publisher, amqp_channel):
    key = settings.callback_signing_key
    imap_server.append(*(sample("dsn_hard_bounce", str(6000 + n), key) for n in range(60)))

    report = reader(imap_server, settings, publisher).poll_once()

    assert (report.read, report.applied, report.events) == (60, 60, 60)
    assert len(published(amqp_channel)) == 60
    assert imap_server.flags() == {}


def test_nothing_is_deleted_when_the_broker_does_not_confirm_the_events(imap_server, settings, publisher,
                                                                         amqp_channel):
    class BrokerDown:
        def publish(self, messages):
            raise PublishError("connection closed")

    key = settings.callback_signing_key
    imap_server.append(sample("dsn_hard_bounce", "7001", key), sample("arf_complaint", "7002", key), AUTO_REPLY)

    with pytest.raises(PublishError):
        reader(imap_server, settings, BrokerDown()).poll_once()
    assert imap_server.flags() == {1: set(), 2: set(), 3: set()}  # all still there, unseen: read again next time

    report = reader(imap_server, settings, publisher).poll_once()
    assert (report.read, report.applied, report.unreadable) == (3, 2, 1)
    assert sorted(published(amqp_channel)) == ["email-report-7001-Bounce", "email-report-7002-Complaint"]


# -- unsubscribe requests -------------------------------------------------------------------------------------------


def unsubscribe_request(links: UnsubscribeLinks, campaign_id: int, recipient: str, sender: str | None = None) -> bytes:
    to = links.mailto_address(campaign_id, recipient)
    assert to is not None
    return f"From: {sender or recipient}\nTo: {to}\nSubject: unsubscribe\n\nunsubscribe\n".encode()


def test_an_unsubscribe_request_calls_the_campaign_service_with_its_campaign_and_address(
        imap_server, settings, publisher, amqp_channel):
    settings = replace(settings, bounce_imap_url=imap_server.url, bounce_address=BOUNCE_ADDRESS,
                       unsubscribe_mailto=MAILTO)
    links = UnsubscribeLinks.from_settings(settings)
    calls: list[tuple[int, str]] = []
    mailbox = from_settings(settings, publisher, lambda campaign_id, recipient: calls.append((campaign_id, recipient)))
    assert mailbox is not None
    imap_server.append(unsubscribe_request(links, 42, "tan@example.gov.sg"),
                       unsubscribe_request(links, 42, "tan@example.gov.sg", sender="mallory@example.com"))

    report = mailbox.poll_once()

    assert calls == [(42, "tan@example.gov.sg")]
    assert (report.read, report.applied, report.forged, report.events) == (2, 1, 1, 0)
    assert imap_server.flags() == {}
    assert published(amqp_channel) == {}


def test_an_unsubscribe_request_the_campaign_service_fails_is_kept_for_the_next_poll(imap_server, settings,
                                                                                       publisher):
    settings = replace(settings, unsubscribe_mailto=MAILTO)
    links = UnsubscribeLinks.from_settings(settings)
    calls: list[tuple[int, str]] = []

    def unsubscribe(campaign_id: int, recipient: str) -> None:
        calls.append((campaign_id, recipient))
        if len(calls) == 1:
            raise ConnectionError("campaign service unavailable")

    mailbox = BounceMailbox(imap_server.url, BOUNCE_ADDRESS, settings.callback_signing_key, publisher, unsubscribe,
                            links, MAILTO, poll_seconds=1)
    imap_server.append(unsubscribe_request(links, 7, "siti@example.com"))

    assert mailbox.poll_once().retried == 1
    assert imap_server.flags() == {1: set()}
    assert mailbox.poll_once().applied == 1
    assert calls == [(7, "siti@example.com"), (7, "siti@example.com")]
    assert imap_server.flags() == {}


# -- an unreachable mailbox ------------------------------------------------------------------------------------------


def wait_for(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_poll_of_a_stopped_mailbox_says_which_mailbox_without_its_password(imap_server, settings, publisher):
    imap_server.stop()
    with pytest.raises(MailboxUnavailable) as failure:
        reader(imap_server, settings, publisher).poll_once()
    assert f"imap://127.0.0.1:{imap_server.port}/INBOX" in str(failure.value)
    assert imap_server.password not in str(failure.value)


def test_the_reader_keeps_polling_through_an_outage_and_reads_the_mailbox_when_it_returns(
        imap_server, settings, publisher, amqp_channel):
    imap_server.stop()
    mailbox = reader(imap_server, settings, publisher, poll_seconds=1)
    polls: list[str] = []
    poll_once = mailbox.poll_once

    def counted_poll() -> PollReport:
        polls.append("poll")
        return poll_once()

    mailbox.poll_once = counted_poll  # type: ignore[method-assign]
    stopping = threading.Event()
    thread = threading.Thread(target=mailbox.run, args=(stopping,), daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: len(polls) >= 2), "the reader stopped polling after a failed poll"
        assert thread.is_alive()
        imap_server.start()
        imap_server.append(sample("dsn_hard_bounce", "8001", settings.callback_signing_key))
        events: dict[str, EmailEvent] = {}
        assert wait_for(lambda: bool(events.update(published(amqp_channel)) or events))
        assert list(events) == ["email-report-8001-Bounce"]
    finally:
        stopping.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


# -- configuration --------------------------------------------------------------------------------------------------


def test_without_a_bounce_imap_url_there_is_no_reader(settings, publisher):
    assert from_settings(replace(settings, bounce_imap_url=""), publisher, None) is None


@pytest.mark.parametrize(("url", "address", "problem"), [
    ("imaps://u:p@imap.example.gov.sg/INBOX", "", "BOUNCE_ADDRESS is not"),
    ("imaps://u:p@imap.example.gov.sg/INBOX", "bounce+x@bounces.agency.gov.sg", "without '+'"),
    ("https://u:p@imap.example.gov.sg/INBOX", BOUNCE_ADDRESS, "imaps://user:password@host:993/INBOX"),
    ("imaps://imap.example.gov.sg/INBOX", BOUNCE_ADDRESS, "user and password"),
    ("imap://u:p@imap.example.gov.sg:port/INBOX", BOUNCE_ADDRESS, "not a valid URL"),
])
def test_a_bounce_mailbox_that_cannot_be_used_refuses_to_start(settings, publisher, url, address, problem):
    with pytest.raises(SettingsError, match=re.escape(problem)):
        from_settings(replace(settings, bounce_imap_url=url, bounce_address=address), publisher, None)

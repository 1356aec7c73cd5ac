"""Reading the bounce mailbox's messages: RFC 3464 bounces and RFC 5965 complaints about messages whose signed return
path names them become SES's events; unsubscribe requests to the mailto address become requests; the rest (forged,
auto-replies, broken MIME) publishes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from postman_sender_email.bounce_reports import (
    DIAGNOSTIC_CHARACTERS,
    Report,
    UnsubscribeRequest,
    bounce_sub_type,
    read_report,
)
from postman_sender_email.return_path import address_for
from postman_shared.messages import EmailEvent
from postman_shared.unsubscribe_links import UnsubscribeLinks

SAMPLES = Path(__file__).parents[2] / "testdata" / "bounces"
BOUNCE_ADDRESS = "bounce@bounces.agency.gov.sg"
KEY = "test-callback-signing-key"
MAILTO = "unsubscribe@bounces.agency.gov.sg"
LINKS = UnsubscribeLinks("http://localhost:8080", {"v2": b"current-unsubscribe-key", "v1": b"older-unsubscribe-key"},
                         MAILTO)
NOW = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)


PLACEHOLDERS = {  # the unsigned return paths the samples carry
    "dsn_hard_bounce": b"bounce+6f1c2a9e-0001@bounces.agency.gov.sg",
    "dsn_soft_bounce": b"bounce+6f1c2a9e-0002@bounces.agency.gov.sg",
    "arf_complaint": b"bounce+6f1c2a9e-0003@bounces.agency.gov.sg",
}


def sample(name: str, delivery_id: str) -> bytes:
    """A sample report with its placeholder return path replaced by the signed one of ``delivery_id``."""
    raw = (SAMPLES / f"{name}.eml").read_bytes()
    assert PLACEHOLDERS[name] in raw
    return raw.replace(PLACEHOLDERS[name], address_for(BOUNCE_ADDRESS, delivery_id, KEY).encode())


def read(raw: bytes, **options) -> Report:
    return read_report(raw, BOUNCE_ADDRESS, KEY, now=NOW, **options)


def dsn(*recipient_blocks: str, to: str, headers: str = "Date: Thu, 03 Dec 2026 09:15:01 +0800\n",
        original_return_path: str = "<bounce@bounces.agency.gov.sg>") -> bytes:
    """A delivery status notification with these per-recipient blocks."""
    blocks = "\n".join(block.strip() + "\n" for block in recipient_blocks)
    return f"""\
{headers}From: MAILER-DAEMON@mx.example.gov.sg
To: {to}
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Some recipients could not be reached.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.gov.sg
Arrival-Date: Thu, 03 Dec 2026 09:15:00 +0800

{blocks}
--b
Content-Type: text/rfc822-headers

Return-Path: {original_return_path}
To: someone@example.gov.sg

--b--
""".encode()


def failed(status: str, recipient: str = "no.such.person@example.gov.sg", action: str = "failed") -> str:
    return f"Final-Recipient: rfc822; {recipient}\nAction: {action}\nStatus: {status}\n"


# -- the samples ---------------------------------------------------------------------------------------------------


def test_a_hard_bounce_is_one_permanent_bounce_of_the_message_its_return_path_names():
    report = read(sample("dsn_hard_bounce", "4101"))
    assert (report.kind, report.outcome, report.unsubscribe) == ("bounce", "applied", None)
    (event,) = report.events
    assert event == EmailEvent(
        provider_message_id="4101", event_type="Bounce", occurred_at="2026-12-03T01:15:01.000Z",
        bounce_type="Permanent", bounce_sub_type="NoEmail", recipients=("no.such.person@example.gov.sg",),
        diagnostic="smtp; 550 5.1.1 <no.such.person@example.gov.sg>: Recipient address rejected: User unknown in "
                   "virtual mailbox table",
        delivery_id="4101",
    )
    assert event.message_id == "email-report-4101-Bounce"


def test_a_delay_is_a_transient_bounce_of_a_full_mailbox():
    report = read(sample("dsn_soft_bounce", "4102.9"))
    assert (report.kind, report.outcome) == ("delay", "applied")
    (event,) = report.events
    assert (event.event_type, event.bounce_type, event.bounce_sub_type) == ("Bounce", "Transient", "MailboxFull")
    assert (event.delivery_id, event.provider_message_id) == ("4102.9", "4102.9")
    assert event.recipients == ("full.mailbox@example.com",)
    assert event.diagnostic is not None and "4.2.2" in event.diagnostic


def test_a_feedback_loop_report_is_an_abuse_complaint_about_its_recipient():
    report = read(sample("arf_complaint", "4103"))
    assert (report.kind, report.outcome) == ("complaint", "applied")
    assert report.events == (EmailEvent(
        provider_message_id="4103", event_type="Complaint", occurred_at="2026-12-03T03:20:45.000Z",
        complaint_type="abuse", recipients=("raj.kumar@example.com",), delivery_id="4103",
    ),)


@pytest.mark.parametrize("name", ["dsn_hard_bounce", "dsn_soft_bounce", "arf_complaint"])
def test_a_report_about_a_return_path_we_did_not_sign_is_forged_and_says_nothing(name):
    raw = sample(name, "4101")
    signed = address_for(BOUNCE_ADDRESS, "4101", KEY)
    signature = signed.partition("-")[2].partition("@")[0]
    altered = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    report = read(raw.replace(signature.encode(), altered.encode()))
    assert report.outcome == "forged"
    assert report.events == ()
    assert read((SAMPLES / f"{name}.eml").read_bytes()).outcome == "forged"  # the placeholder is not ours either


def test_a_report_signed_under_another_key_is_forged():
    raw = sample("dsn_hard_bounce", "4101")
    assert read_report(raw, BOUNCE_ADDRESS, "another-key", now=NOW) == Report("bounce", "forged")


# -- delivery status notifications ----------------------------------------------------------------------------------


def test_only_the_recipients_that_failed_become_events():
    ours = address_for(BOUNCE_ADDRESS, "77", KEY)
    report = read(dsn(failed("5.1.1"), failed("2.0.0", "arrived@example.gov.sg", action="delivered"), to=ours))
    assert [(e.recipients, e.bounce_type) for e in report.events] == [(("no.such.person@example.gov.sg",),
                                                                       "Permanent")]


def test_a_report_of_successes_only_is_ours_and_publishes_nothing():
    ours = address_for(BOUNCE_ADDRESS, "77", KEY)
    report = read(dsn(failed("2.0.0", action="relayed"), failed("2.0.0", action="delivered"), to=ours))
    assert (report.outcome, report.events) == ("applied", ())


def test_a_failure_with_a_temporary_status_is_a_transient_bounce_not_a_delay():
    ours = address_for(BOUNCE_ADDRESS, "77", KEY)
    report = read(dsn(failed("4.4.7 (expired)"), to=ours))
    assert report.kind == "bounce"
    assert [(e.bounce_type, e.bounce_sub_type) for e in report.events] == [("Transient", "General")]


@pytest.mark.parametrize(("status", "bounce_type", "sub_type"), [
    ("5.1.1", "Permanent", "NoEmail"),
    ("5.1.10", "Permanent", "NoEmail"),
    ("5.1.2", "Permanent", "NoEmail"),
    ("5.1.6", "Permanent", "NoEmail"),
    ("5.2.2", "Permanent", "MailboxFull"),
    ("4.2.2", "Transient", "MailboxFull"),
    ("5.3.4", "Permanent", "MessageTooLarge"),
    ("5.2.3", "Permanent", "MessageTooLarge"),
    ("5.7.1", "Permanent", "ContentRejected"),
    ("5.7.26", "Permanent", "ContentRejected"),
    ("4.7.1", "Transient", "General"),
    ("5.4.4", "Permanent", "General"),
    ("", "Permanent", "General"),
])
def test_status_codes_become_ses_bounce_sub_types(status, bounce_type, sub_type):
    assert bounce_sub_type(status, bounce_type) == sub_type


def test_the_return_path_is_looked_for_in_the_reports_headers_first_then_in_the_included_original():
    first, second = address_for(BOUNCE_ADDRESS, "1", KEY), address_for(BOUNCE_ADDRESS, "2", KEY)
    in_to = read(dsn(failed("5.1.1"), to=first, original_return_path=f"<{second}>"))
    assert [e.delivery_id for e in in_to.events] == ["1"]
    in_delivered_to = read(dsn(failed("5.1.1"), to=BOUNCE_ADDRESS, headers=f"Delivered-To: {first}\n",
                               original_return_path=f"<{second}>"))
    assert [e.delivery_id for e in in_delivered_to.events] == ["1"]
    only_in_original = read(dsn(failed("5.1.1"), to=BOUNCE_ADDRESS, original_return_path=f"<{second}>"))
    assert [e.delivery_id for e in only_in_original.events] == ["2"]


def test_a_report_without_a_date_is_dated_by_its_arrival_date_then_now():
    ours = address_for(BOUNCE_ADDRESS, "77", KEY)
    (by_arrival,) = read(dsn(failed("5.1.1"), to=ours, headers="")).events
    assert by_arrival.occurred_at == "2026-12-03T01:15:00.000Z"
    no_dates = dsn(failed("5.1.1"), to=ours, headers="").replace(b"Arrival-Date: Thu, 03 Dec 2026 09:15:00 +0800\n",
                                                                 b"")
    (by_now,) = read(no_dates).events
    assert by_now.occurred_at == "2026-12-03T04:00:00.000Z"


def test_a_long_diagnostic_is_unfolded_and_cut():
    ours = address_for(BOUNCE_ADDRESS, "77", KEY)
    block = failed("5.7.1") + "Diagnostic-Code: smtp; 550 5.7.1\n  " + "rejected " * 100 + "\n"
    (event,) = read(dsn(block, to=ours)).events
    assert event.diagnostic is not None
    assert event.diagnostic.startswith("smtp; 550 5.7.1 rejected rejected")
    assert len(event.diagnostic) == DIAGNOSTIC_CHARACTERS
    assert "\n" not in event.diagnostic


# -- unsubscribe requests -------------------------------------------------------------------------------------------


def request(to: str, sender: str = "Tan Ah Kow <Tan.AhKow@example.gov.sg>") -> bytes:
    return f"From: {sender}\nTo: {to}\nSubject: unsubscribe\n\nunsubscribe\n".encode()


def test_a_mailto_unsubscribe_request_that_verifies_names_its_campaign_and_sender():
    to = LINKS.mailto_address(42, "tan.ahkow@example.gov.sg")
    assert to is not None
    report = read(request(to), unsubscribe_mailto=MAILTO, links=LINKS)
    assert report == Report("unsubscribe", "applied", unsubscribe=UnsubscribeRequest(42, "tan.ahkow@example.gov.sg"))


def test_a_request_signed_with_an_older_key_still_verifies():
    older = UnsubscribeLinks(LINKS.public_url, {"v1": LINKS.keys["v1"]}, MAILTO)
    to = older.mailto_address(42, "tan.ahkow@example.gov.sg")
    assert to is not None
    assert read(request(to), unsubscribe_mailto=MAILTO, links=LINKS).outcome == "applied"


@pytest.mark.parametrize("case", ["another sender", "another campaign", "altered hash", "not a token"])
def test_a_mailto_unsubscribe_request_that_does_not_verify_is_forged(case):
    to = LINKS.mailto_address(42, "tan.ahkow@example.gov.sg")
    assert to is not None
    sender = "Tan Ah Kow <Tan.AhKow@example.gov.sg>"
    if case == "another sender":
        sender = "someone.else@example.gov.sg"
    elif case == "another campaign":
        to = to.replace("+42.", "+43.")
    elif case == "altered hash":
        local, _, domain = to.partition("@")
        to = f"{local[:-1]}{'0' if local[-1] != '0' else '1'}@{domain}"
    else:
        to = "unsubscribe+please@bounces.agency.gov.sg"
    report = read(request(to, sender), unsubscribe_mailto=MAILTO, links=LINKS)
    assert report == Report("unsubscribe", "forged")


def test_a_letter_to_the_bare_unsubscribe_address_is_left_for_a_person():
    assert read(request(MAILTO), unsubscribe_mailto=MAILTO, links=LINKS) == Report("unknown", "unreadable")


def test_unsubscribe_requests_are_not_recognised_without_an_unsubscribe_mailto():
    to = LINKS.mailto_address(42, "tan.ahkow@example.gov.sg")
    assert to is not None
    assert read(request(to)) == Report("unknown", "unreadable")


# -- everything else ------------------------------------------------------------------------------------------------


def test_an_auto_reply_to_a_return_path_is_left_for_a_person():
    ours = address_for(BOUNCE_ADDRESS, "77", KEY)
    auto_reply = (f"From: Tan Ah Kow <tan@example.gov.sg>\nTo: {ours}\nSubject: Out of office\n"
                  "Auto-Submitted: auto-replied\n\nI am on leave until Monday.\n").encode()
    assert read(auto_reply, unsubscribe_mailto=MAILTO, links=LINKS) == Report("unknown", "unreadable")


@pytest.mark.parametrize("raw", [
    b"",
    b"\x00\xff\xfe garbage \x80\x81",
    b"Content-Type: multipart/report; report-type=delivery-status\n\nno boundary at all\n",
    b"Content-Type: multipart/report; report-type=feedback-report; boundary=x\n\n--x\nContent-Type: text/plain\n\n",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\n\n--x\n"
    b"Content-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n!!!not base64!!!\n--x--\n",
    b"To: ((((((((((((((((((((((((((((((" + b"(" * 100_000 + b"\nContent-Type: multipart/report; "
    b"report-type=delivery-status; boundary=x\n\n--x\nContent-Type: message/delivery-status\n\n"
    b"Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n\n--x--\n",
], ids=["empty", "binary", "no boundary", "no feedback part", "broken status part", "nested comments in To"])
def test_a_message_that_cannot_be_read_is_unknown_and_raises_nothing(raw):
    report = read(raw, unsubscribe_mailto=MAILTO, links=LINKS)
    assert (report.kind, report.events) == ("unknown", ())
    assert report.outcome == "unreadable"

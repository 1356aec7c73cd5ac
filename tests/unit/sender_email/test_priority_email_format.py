"""A priority email's id comes from another service: it names the Message-ID and the outbox file, safely."""

from __future__ import annotations

from email import message_from_bytes, policy

from postman_sender_email import mime
from postman_sender_email.transports.dev_mailbox import file_name
from postman_shared.messages import PriorityEmail


def _otp(message_id: str = "otp-3f2a", **overrides: object) -> PriorityEmail:
    fields: dict[str, object] = dict(
        message_id=message_id, to="Officer Tan <tan@agency.gov.sg>", sender="Postman <donotreply@mail.postman.gov.sg>",
        subject="Your one-time password", body="<p>K7P2QX</p>",
    )
    fields.update(overrides)
    return PriorityEmail(**fields)  # type: ignore[arg-type]


def test_priority_email_parses_back_with_a_message_id_named_by_its_id():
    parsed = message_from_bytes(mime.build(_otp(reply_to="help@agency.gov.sg")), policy=policy.default)

    assert parsed["To"] == "Officer Tan <tan@agency.gov.sg>"
    assert parsed["Reply-To"] == "help@agency.gov.sg"
    assert parsed["Subject"] == "Your one-time password"
    assert parsed.get_content() == "<p>K7P2QX</p>"
    assert parsed["Message-ID"] == "<otp-3f2a@mail.postman.gov.sg>"


def test_characters_that_would_break_the_message_id_header_are_replaced():
    header = mime.message_id(_otp("otp <x>@evil\r\nBcc: a@b"), "donotreply@mail.postman.gov.sg")

    assert header == "<otp__x__evil__Bcc__a_b@mail.postman.gov.sg>"


def test_the_outbox_file_of_a_priority_email_stays_inside_the_outbox_folder():
    assert file_name(_otp("otp-3f2a")) == "otp-3f2a.eml"
    assert file_name(_otp("../../etc/passwd")) == "______etc_passwd.eml"

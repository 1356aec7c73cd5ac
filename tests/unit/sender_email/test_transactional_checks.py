"""What makes a transactional email sendable, and the bytes it becomes: checked before anything is recorded."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from postman_sender_email import mime, transactional
from postman_sender_email.transactional import EmailToSend, check
from postman_sender_email.transactional_mail import Attachment, TransactionalMail
from postman_shared.grpc.errors import ServiceError

DEFAULT = "Postman <donotreply@mail.postman.gov.sg>"


def request(**fields: object) -> EmailToSend:
    values: dict[str, object] = dict(user_id=1, recipient="ana@example.com", subject="Hello", body="<p>Hi</p>")
    values.update(fields)
    return EmailToSend(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("from_address, header", [
    ("", DEFAULT),
    ("donotreply@mail.postman.gov.sg", DEFAULT),
    (" <donotreply@mail.postman.gov.sg>", DEFAULT),
    ("Clinic <DoNotReply@Mail.Postman.gov.sg>", "Clinic via Postman <donotreply@mail.postman.gov.sg>"),
    ('"Tan, Ana" <donotreply@mail.postman.gov.sg>', '"Tan, Ana via Postman" <donotreply@mail.postman.gov.sg>'),
])
def test_the_default_sender_may_be_named_as_the_caller_likes_via_postman(from_address, header):
    sender = check(request(from_address=from_address), DEFAULT).sender
    assert sender == header
    assert mime.mailbox(sender)[0] == "donotreply@mail.postman.gov.sg"


def test_another_sender_is_refused_naming_the_rule():
    with pytest.raises(ServiceError) as refused:
        check(request(from_address="Me <me@agency.gov.sg>"), DEFAULT)
    assert refused.value.code == "invalid_from_address"
    assert "send from donotreply@mail.postman.gov.sg" in refused.value.message
    assert "Settings > Sender addresses" in refused.value.message


def test_a_verified_sender_address_is_used_with_its_own_name_and_asked_for_only_when_needed():
    asked = []

    def verified():
        asked.append(1)
        return {"me@agency.gov.sg"}

    assert check(request(from_address="Me <ME@agency.gov.sg>"), DEFAULT, verified).sender == "Me <me@agency.gov.sg>"
    assert check(request(from_address="Me <donotreply@mail.postman.gov.sg>"), DEFAULT, verified).sender == \
        "Me via Postman <donotreply@mail.postman.gov.sg>"
    assert asked == [1]  # the default address needs no lookup


def test_addresses_are_reduced_to_bare_ones_and_copies_are_not_repeated():
    email = check(request(recipient="Ana Tan <Ana@Example.com>", cc=["b@example.com", "B@example.com"],
                          bcc=["b@example.com", "c@example.com"], classification=" for_info "), DEFAULT)
    assert email.recipient == "ana@example.com"
    assert (email.cc, email.bcc) == (("b@example.com",), ("c@example.com",))
    assert email.classification == "FOR_INFO"


def test_attachments_over_10_mb_together_are_an_attachment_limit():
    big = Attachment("a.pdf", "application/pdf", b"0" * (transactional.MAX_ATTACHMENT_BYTES // 2 + 1))
    with pytest.raises(ServiceError) as refused:
        check(request(attachments=[big, big]), DEFAULT)
    assert (refused.value.code, refused.value.http_status) == ("attachment_limit", 413)


def test_a_subject_cannot_inject_headers():
    email = check(request(subject="Hi\r\nBcc: victim@example.com"), DEFAULT)
    parsed = message_from_bytes(mime.build(TransactionalMail("tx-1", email.recipient, email.sender, email.subject,
                                                             email.body)), policy=policy.default)
    assert parsed["Bcc"] is None and parsed["Subject"] == "Hi Bcc: victim@example.com"


def test_a_long_non_ascii_file_name_survives_the_round_trip():
    name = "季度报告 — quarterly report, final (revised) " * 4 + ".pdf"
    mail = TransactionalMail("tx-2", "ana@example.com", DEFAULT, "Report", "<p>x</p>", cc=("b@example.com",),
                             attachments=(Attachment(name, "application/pdf", b"%PDF-1.4 data"),))
    data = mime.build(mail)
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    parsed = message_from_bytes(data, policy=policy.default)
    [_, attachment] = list(parsed.iter_parts())
    assert attachment.get_filename() == name and attachment.get_content() == b"%PDF-1.4 data"
    assert parsed["Cc"] == "b@example.com"

"""The hand-built MIME bytes must mean exactly what the standard library's parser reads back."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from postman_sender_email import mime
from postman_shared.messages import PriorityEmail, RenderedEmail


def _email(**overrides: object) -> RenderedEmail:
    fields: dict[str, object] = dict(
        recipient_id=42, campaign_id=7, job_id=3, to="ana@example.com",
        sender="Postman Team <donotreply@mail.postman.gov.sg>", reply_to=None,
        subject="Your appointment", body="<p>Hello Ana</p>",
    )
    fields.update(overrides)
    return RenderedEmail(**fields)  # type: ignore[arg-type]


def _parse(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


def test_message_parses_back_to_its_headers_and_body():
    parsed = _parse(mime.build(_email(reply_to="help@agency.gov.sg")))

    assert parsed["From"] == "Postman Team <donotreply@mail.postman.gov.sg>"
    assert parsed["To"] == "ana@example.com"
    assert parsed["Reply-To"] == "help@agency.gov.sg"
    assert parsed["Subject"] == "Your appointment"
    assert parsed["MIME-Version"] == "1.0"
    assert parsed.get_content_type() == "text/html"
    assert parsed.get_content_charset() == "utf-8"
    assert parsed["Content-Transfer-Encoding"] == "base64"
    assert parsed.get_content() == "<p>Hello Ana</p>"
    assert parsed["Date"].datetime is not None


def test_reply_to_is_left_out_when_there_is_none():
    assert "Reply-To" not in _parse(mime.build(_email(reply_to=None)))


def test_message_id_names_the_message_and_the_sender_domain():
    parsed = _parse(mime.build(_email()))

    assert parsed["Message-ID"] == "<42.7@mail.postman.gov.sg>"


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("您的预约已确认", "<p>您好，陈先生。请于下午三点到达。</p>"),
        ("உங்கள் சந்திப்பு உறுதிசெய்யப்பட்டது", "<p>வணக்கம் குமார், உங்கள் சந்திப்பு நாளை.</p>"),
        ("Mixed 中文 and தமிழ் and English " * 6, "<p>" + "长正文 " * 2000 + "</p>"),
    ],
    ids=["chinese", "tamil", "long-mixed"],
)
def test_non_ascii_subjects_and_bodies_round_trip(subject, body):
    data = mime.build(_email(subject=subject, body=body))
    parsed = _parse(data)

    assert parsed["Subject"] == subject
    assert parsed.get_content() == body
    assert data.isascii(), "every byte on the wire is 7-bit"


def test_non_ascii_sender_name_is_encoded_and_round_trips():
    parsed = _parse(mime.build(_email(sender="新加坡政府 <donotreply@mail.postman.gov.sg>")))

    assert parsed["From"].addresses[0].display_name == "新加坡政府"
    assert parsed["From"].addresses[0].addr_spec == "donotreply@mail.postman.gov.sg"


def test_plain_subject_that_looks_like_an_encoded_word_stays_literal():
    subject = "Reply =?utf-8?q?hi?= please"
    assert _parse(mime.build(_email(subject=subject)))["Subject"] == subject


def test_long_ascii_subject_is_folded_within_the_line_limit():
    subject = "word " * 400
    data = mime.build(_email(subject=subject))

    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    assert _parse(data)["Subject"] == subject


def test_line_breaks_in_the_subject_cannot_inject_headers():
    data = mime.build(_email(subject="Hello\r\nBcc: victim@example.com\nX-Evil: 1"))
    parsed = _parse(data)

    assert parsed["Bcc"] is None
    assert parsed["X-Evil"] is None
    assert parsed["Subject"] == "Hello Bcc: victim@example.com X-Evil: 1"


@pytest.mark.parametrize("field", ["to", "sender", "reply_to"])
def test_line_breaks_in_addresses_cannot_inject_headers(field):
    data = mime.build(_email(**{field: "someone@example.com\r\nBcc: victim@example.com"}))
    parsed = _parse(data)

    assert parsed["Bcc"] is None
    assert b"\r\nBcc:" not in data


def test_body_is_base64_in_76_character_crlf_lines_and_no_line_starts_with_a_dot():
    data = mime.build(_email(body="<p>" + "x. " * 5000 + "</p>"))
    _head, _, body = data.partition(b"\r\n\r\n")
    lines = body.split(b"\r\n")

    assert b"\n" not in body.replace(b"\r\n", b"")
    assert all(len(line) <= 76 for line in lines)
    assert not any(line.startswith(b".") for line in data.split(b"\r\n"))
    assert data.endswith(b"\r\n")


def test_has_line_break_spots_cr_and_lf():
    assert mime.has_line_break("a\rb")
    assert mime.has_line_break("a\nb")
    assert not mime.has_line_break("a b")
    assert not mime.has_line_break(None)


def test_a_campaign_email_carries_its_one_click_unsubscribe_headers():
    url = "https://postman.example.gov.sg/unsubscribe/7/ana@example.com?v=v1&h=" + "ab" * 32
    mailto = "unsubscribe+7.v1." + "ab" * 16 + "@bounces.agency.gov.sg"
    data = mime.build(_email(unsubscribe_url=url, unsubscribe_mailto=mailto))
    parsed = _parse(data)

    assert parsed["List-Unsubscribe"] == f"<{url}>, <mailto:{mailto}?subject=unsubscribe>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))


def test_without_a_mailto_the_header_holds_the_https_link_only_and_without_a_link_there_is_none():
    url = "https://postman.example.gov.sg/unsubscribe/7/ana@example.com?v=v1&h=00"
    assert _parse(mime.build(_email(unsubscribe_url=url)))["List-Unsubscribe"] == f"<{url}>"
    plain = _parse(mime.build(_email()))
    assert plain["List-Unsubscribe"] is None and plain["List-Unsubscribe-Post"] is None


def test_a_line_break_in_the_link_cannot_inject_a_header():
    parsed = _parse(mime.build(_email(unsubscribe_url="https://x.example/u\r\nBcc: victim@example.com")))
    assert parsed["Bcc"] is None


def test_an_email_with_a_text_part_is_multipart_alternative_text_first_then_html():
    text = "Hello Ana\n\nSee you.\r\nBye 😀\n"
    data = mime.build(_email(body="<p>Hello Ana 😀</p>", text=text, unsubscribe_url="https://p.example/u/1?h=2"))
    parsed = _parse(data)

    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = parsed.iter_parts()
    assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    assert plain["Content-Transfer-Encoding"] == html["Content-Transfer-Encoding"] == "base64"
    assert plain.get_payload(decode=True) == "Hello Ana\r\n\r\nSee you.\r\nBye 😀\r\n".encode()  # CRLF, canonical
    assert html.get_content() == "<p>Hello Ana 😀</p>"
    assert parsed.get_body(("html",)) is html and parsed.get_body(("plain",)) is plain
    assert parsed["List-Unsubscribe"] == "<https://p.example/u/1?h=2>"  # headers as before
    assert not any(line.startswith(b".") for line in data.split(b"\r\n")) and data.endswith(b"--\r\n")


def test_each_message_has_its_own_boundary_that_no_part_can_contain():
    first, second = (mime.build(_email(text="x", body="<p>=_postman_</p>")) for _ in range(2))
    boundary = _parse(first).get_boundary()
    assert boundary.startswith("=_postman_") and boundary != _parse(second).get_boundary()
    assert first.count(boundary.encode()) == 4  # the header, two part openings and the closing line


def test_a_priority_email_with_a_text_part_is_multipart_too_and_one_without_is_html_only():
    with_text = PriorityEmail(message_id="test-1-ab", to="me@agency.gov.sg", sender="a@b.sg", subject="s",
                              body="<p>x</p>", text="x\n")
    assert _parse(mime.build(with_text)).get_content_type() == "multipart/alternative"
    otp = PriorityEmail(message_id="otp-1", to="me@agency.gov.sg", sender="a@b.sg", subject="s", body="<p>x</p>")
    assert _parse(mime.build(otp)).get_content_type() == "text/html"
    assert PriorityEmail.from_dict({k: v for k, v in with_text.to_dict().items() if k != "text"}).text is None
    assert PriorityEmail.from_dict(with_text.to_dict()) == with_text

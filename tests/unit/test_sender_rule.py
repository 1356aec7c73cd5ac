"""Who an email may say it is from (postman_shared.sender_rule): the platform's default address under any name
("<name> via Postman"), or one of the user's verified addresses, read strictly so that what a mail client shows is
what was checked."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.utils import parseaddr

import pytest

from postman_sender_email import mime
from postman_sender_email.transactional_mail import TransactionalMail
from postman_shared.grpc.errors import ServiceError
from postman_shared.sender_rule import allowed_sender, is_default_address, parse_from, via_name

DEFAULT = "Postman <donotreply@mail.postman.gov.sg>"
MINE = {"me@moh.gov.sg"}


def refusal(value: str, verified=MINE) -> str:
    with pytest.raises(ServiceError) as refused:
        allowed_sender(value, DEFAULT, verified)
    assert refused.value.code == "invalid_from_address" and refused.value.http_status == 400
    return refused.value.message


@pytest.mark.parametrize("value, header", [
    ("", DEFAULT),
    ("   ", DEFAULT),
    ("donotreply@mail.postman.gov.sg", DEFAULT),
    ("DoNotReply@MAIL.postman.gov.sg", DEFAULT),
    (" <donotreply@mail.postman.gov.sg>", DEFAULT),
    ("Postman <donotreply@mail.postman.gov.sg>", DEFAULT),
    ("Ministry of Health <donotreply@mail.postman.gov.sg>",
     "Ministry of Health via Postman <donotreply@mail.postman.gov.sg>"),
    ("Ministry  of   Health <donotreply@mail.postman.gov.sg>",
     "Ministry of Health via Postman <donotreply@mail.postman.gov.sg>"),
    ("MOH via Postman <donotreply@mail.postman.gov.sg>", "MOH via Postman <donotreply@mail.postman.gov.sg>"),
    ('"Tan, Ana" <donotreply@mail.postman.gov.sg>', '"Tan, Ana via Postman" <donotreply@mail.postman.gov.sg>'),
    ('"MOH \\"Flu\\" team" <donotreply@mail.postman.gov.sg>',
     '"MOH \\"Flu\\" team via Postman" <donotreply@mail.postman.gov.sg>'),
    ("卫生部 <donotreply@mail.postman.gov.sg>", "卫生部 via Postman <donotreply@mail.postman.gov.sg>"),
])
def test_the_default_address_may_carry_any_name_which_then_says_via_postman(value, header):
    sender = allowed_sender(value, DEFAULT, lambda: pytest.fail("the default address needs no lookup"))
    assert sender.header == header and sender.default
    assert parseaddr(sender.header)[1] == "donotreply@mail.postman.gov.sg"


def test_saving_the_header_again_does_not_say_via_postman_twice():
    once = allowed_sender("Clinic <donotreply@mail.postman.gov.sg>", DEFAULT, ()).header
    assert allowed_sender(once, DEFAULT, ()).header == once
    assert via_name("Clinic VIA POSTMAN", "Postman") == "Clinic VIA POSTMAN"


def test_another_platform_name_is_the_one_said():
    assert allowed_sender("Clinic <noreply@mail.example.gov.sg>", "GovMail <noreply@mail.example.gov.sg>",
                          ()).header == "Clinic via GovMail <noreply@mail.example.gov.sg>"


@pytest.mark.parametrize("value, header", [
    ("me@moh.gov.sg", "me@moh.gov.sg"),
    ("ME@MOH.GOV.SG", "me@moh.gov.sg"),
    ("Ministry of Health <me@moh.gov.sg>", "Ministry of Health <me@moh.gov.sg>"),
    ('"Health, Ministry of" <Me@Moh.gov.sg>', '"Health, Ministry of" <me@moh.gov.sg>'),
])
def test_a_verified_address_keeps_its_own_name(value, header):
    sender = allowed_sender(value, DEFAULT, MINE)
    assert (sender.header, sender.default) == (header, False)


def test_an_unverified_address_is_refused_naming_the_rule():
    message = refusal("Ministry of Health <ceo@moh.gov.sg>")
    assert "send from donotreply@mail.postman.gov.sg (with any display name)" in message
    assert "Settings > Sender addresses" in message


def test_another_users_verified_address_is_refused():
    # The rule only knows the addresses of the user it is asked for: another user's are simply not among them.
    refusal("me@moh.gov.sg", verified={"officer@mof.gov.sg"})
    refusal("me@moh.gov.sg", verified=())


@pytest.mark.parametrize("value, words", [
    # A name that reads like an address, whichever way it is written.
    ('"ceo@moh.gov.sg" <x@evil.example>', "looks like an address"),
    ('"ceo@moh.gov.sg" <donotreply@mail.postman.gov.sg>', "looks like an address"),
    ("ceo@moh.gov.sg <donotreply@mail.postman.gov.sg>", "looks like an address"),
    ("CEO＠moh.gov.sg <donotreply@mail.postman.gov.sg>", "looks like an address"),  # fullwidth @
    ("CEO﹫moh.gov.sg <donotreply@mail.postman.gov.sg>", "looks like an address"),  # small commercial at
    ('"Minister <minister@moh.gov.sg>" <donotreply@mail.postman.gov.sg>', "looks like an address"),
    ("Minister ＜minister＞ <donotreply@mail.postman.gov.sg>", "looks like an address"),  # fullwidth < >
    # Look-alike letters and other non-ASCII addresses.
    ("me@mоh.gov.sg", "plain ASCII"),  # Cyrillic о
    ("mе@moh.gov.sg", "plain ASCII"),  # Cyrillic е
    ("me@ｍoh.gov.sg", "plain ASCII"),  # fullwidth m
    ("Health <me@moh.gov.sg\u200b>", "invisible"),  # zero-width space
    ("me@bücher.gov.sg", "plain ASCII"),
    ("ünïcode@moh.gov.sg", "plain ASCII"),
    # RFC 2047 encoded words, in the name or the address.
    ("=?utf-8?q?ceo=40moh.gov.sg?= <donotreply@mail.postman.gov.sg>", "encoded word"),
    ("=?utf-8?b?Y2VvQG1vaC5nb3Yuc2c=?= <donotreply@mail.postman.gov.sg>", "encoded word"),
    ('"=?utf-8?q?MOH?=" <donotreply@mail.postman.gov.sg>', "encoded word"),
    ("Health <=?utf-8?q?me=40moh.gov.sg?=>", "encoded word"),
    # More than one address, groups, comments.
    ("me@moh.gov.sg, donotreply@mail.postman.gov.sg", "exactly one address"),
    ("Health <me@moh.gov.sg>, Other <x@evil.example>", "after the address"),
    ("donotreply@mail.postman.gov.sg; x@evil.example", "exactly one address"),
    ("Team: me@moh.gov.sg;", "exactly one address"),
    ("Health <me@moh.gov.sg> <x@evil.example>", "after the address"),
    ("Health <me@moh.gov.sg <x@evil.example>>", "exactly one address"),
    ("me@moh.gov.sg (the minister)", "comment"),
    ("(ceo@moh.gov.sg) <donotreply@mail.postman.gov.sg>", "comment"),
    ("Health <me(x)@moh.gov.sg>", "comment"),
    # Line breaks, control and bidirectional characters.
    ("Health\r\nBcc: x@evil.example <donotreply@mail.postman.gov.sg>", "line break"),
    ("Health\n <donotreply@mail.postman.gov.sg>", "line break"),
    ("Health\x00 <donotreply@mail.postman.gov.sg>", "control"),
    ("gs.vog.hom@oec\u202e <donotreply@mail.postman.gov.sg>", "invisible"),
    # Malformed.
    ("Health <not an address>", "not a valid email address"),
    ("Health <>", "not a valid email address"),
    ("Health <me@moh.gov.sg", "without its '>'"),
    ("Health me@moh.gov.sg>", "without its '<'"),
    ("Health <me@moh.gov.sg> trailing", "after the address"),
    ('"Health <me@moh.gov.sg>', "not closed"),
    ('Mixed "quoted" name <me@moh.gov.sg>', "mixes quoted and plain"),
    ("me@moh.gov.sg@evil.example", "not a valid email address"),
    ("Health Team me@moh.gov.sg", "not one address"),
    ("Back\\slash <me@moh.gov.sg>", "backslash"),
])
def test_a_from_that_could_be_shown_otherwise_than_checked_is_refused(value, words):
    assert words in refusal(value)


def test_a_name_that_is_too_long_is_refused():
    assert "at most 200" in refusal("A" * 201 + " <donotreply@mail.postman.gov.sg>")


@pytest.mark.parametrize("value", ["Ministry of Health <me@moh.gov.sg>", '"Tan, Ana" <donotreply@mail.postman.gov.sg>',
                                   "卫生部 <donotreply@mail.postman.gov.sg>"])
def test_the_header_reads_back_as_checked_in_the_email_on_the_wire(value):
    header = allowed_sender(value, DEFAULT, MINE).header
    raw = mime.build(TransactionalMail("tx-1", "ana@example.com", header, "Hello", "<p>Hi</p>"))
    parsed = message_from_bytes(raw, policy=policy.default)
    [mailbox] = parsed["From"].addresses
    expected = parse_from(header)
    assert (mailbox.display_name, mailbox.addr_spec) == (expected.name, expected.address)


def test_is_default_address_needs_no_lookup_and_is_false_for_what_cannot_be_read():
    assert is_default_address("", DEFAULT) and is_default_address("X <DONOTREPLY@mail.postman.gov.sg>", DEFAULT)
    assert not is_default_address("me@moh.gov.sg", DEFAULT)
    assert not is_default_address("=?utf-8?q?x?= <donotreply@mail.postman.gov.sg>", DEFAULT)

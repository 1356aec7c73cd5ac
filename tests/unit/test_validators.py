"""is_valid_email and normalise_email: what we are willing to send to."""

from __future__ import annotations

import pytest

from postman_shared.validators import is_valid_email, normalise_email


@pytest.mark.parametrize(
    "address",
    [
        "officer@example.gov.sg",
        "jane.doe@example.gov.sg",
        "Jane.Doe@Example.GOV.SG",
        "o'neil+tag@example.gov.sg",
        "first_last-1@sub-domain.example.com",
        "!#$%&'*+/=?^_`{|}~-@example.com",
        "a@example.museum",
        "a@xn--bcher-kva.de",
        "a@example.xn--zckzah",
        "1@2.io",
    ],
)
def test_accepts_ordinary_addresses(address: str) -> None:
    assert is_valid_email(address)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "not-an-email",
        "b@@example.gov.sg",
        "@example.gov.sg",
        "a@",
        "a@example",  # no top-level domain
        "a@example.c",  # a one-letter top-level domain
        "a@example.123",  # a numeric top-level domain
        "a@192.168.0.1",
        "a..b@example.com",
        ".a@example.com",
        "a.@example.com",
        "a@example..com",
        "a@.example.com",
        "a@example.com.",
        "a@-example.com",
        "a@example-.com",
        "a@exa_mple.com",
        "a b@example.com",
        "a@example.com ",
        "a@example.com\n",
        '"quoted"@example.com',
        "semi;colon@example.com",
        "a,b@example.com",
        "a@[192.168.0.1]",
        "Jane Doe <jane@example.com>",
    ],
)
def test_rejects_what_is_not_an_address(address: str) -> None:
    assert not is_valid_email(address)


def test_local_part_may_have_64_characters_but_not_65() -> None:
    assert is_valid_email("a" * 64 + "@example.com")
    assert not is_valid_email("a" * 65 + "@example.com")


def test_domain_labels_may_have_63_characters_but_not_64() -> None:
    assert is_valid_email("a@" + "b" * 63 + ".com")
    assert not is_valid_email("a@" + "b" * 64 + ".com")


def test_domain_may_have_253_characters_but_not_254() -> None:
    domain_253 = ".".join(["b" * 63] * 3) + "." + "c" * 58 + ".sg"
    assert len(domain_253) == 253
    assert is_valid_email("a@" + domain_253)
    assert not is_valid_email("a@x" + domain_253)


def test_addresses_longer_than_320_characters_are_rejected() -> None:
    assert not is_valid_email("a" * 64 + "@" + "b" * 300 + ".com")


@pytest.mark.parametrize("address", ["user@bücher.de", "user@例え.テスト", "USER@BÜCHER.DE"])
def test_accepts_internationalised_domains(address: str) -> None:
    assert is_valid_email(address)


@pytest.mark.parametrize(
    "address",
    [
        "üser@example.com",  # a non-ASCII local part needs SMTPUTF8
        "a@exam\u200bple.com",  # a zero-width space IDNA would silently drop
        "a@straße.de",  # IDNA 2003 would send it to strasse.de
        "a@bücher",  # still needs a top-level domain
        "a@bü..cher.de",
        "a@" + "ü" * 64 + ".de",  # a label too long once encoded
    ],
)
def test_rejects_internationalised_domains_that_do_not_encode_faithfully(address: str) -> None:
    assert not is_valid_email(address)


def test_letters_that_only_fold_to_ascii_are_not_ascii_letters() -> None:
    # "K" (Kelvin sign) and "ſ" (long s) match [a-z] under Unicode case folding; they must not pass as ASCII.
    assert not is_valid_email("\u212a@example.com")
    assert not is_valid_email("a\u017f@example.com")


def test_normalise_strips_surrounding_white_space_and_lower_cases() -> None:
    assert normalise_email("  Jane.Doe@Example.GOV.SG \t") == "jane.doe@example.gov.sg"
    assert normalise_email("\u00a0a@b.sg\u00a0") == "a@b.sg"

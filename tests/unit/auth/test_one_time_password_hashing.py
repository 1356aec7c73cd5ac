"""One-time passwords: unambiguous characters, stored only as a salted slow hash."""

from __future__ import annotations

from postman_auth import one_time_passwords as otp


def test_a_password_has_six_unambiguous_characters():
    passwords = {otp.generate_password() for _ in range(200)}
    assert len(passwords) > 190  # random, not a sequence
    for password in passwords:
        assert len(password) == 6
        assert not set(password) & set("0O1IL2Z5S8B")


def test_the_hash_is_salted_scrypt_and_never_contains_the_password():
    first, second = otp.hash_password("ACD347"), otp.hash_password("ACD347")
    assert first != second  # a random salt each time
    assert first.startswith("scrypt$") and len(first.split("$")) == 6
    assert "ACD347" not in first
    assert otp.password_matches("ACD347", first) and otp.password_matches("ACD347", second)


def test_a_wrong_password_or_a_damaged_hash_does_not_match():
    stored = otp.hash_password("ACD347")
    assert not otp.password_matches("ACD346", stored)
    assert not otp.password_matches("ACD347", stored.replace("scrypt$", "md5$"))
    assert not otp.password_matches("ACD347", "scrypt$x$8$1$00$00")
    assert not otp.password_matches("ACD347", "")


def test_a_typed_password_is_trimmed_and_upper_cased_and_impossible_ones_are_rejected_early():
    assert otp.normalise_typed_password(" acd347 ") == "ACD347"
    assert otp.normalise_typed_password("ACD34") is None
    assert otp.normalise_typed_password("ACD3470") is None
    assert otp.normalise_typed_password("ACD340") is None  # 0 is not in the alphabet
    assert otp.normalise_typed_password("АCD347") is None  # Cyrillic А

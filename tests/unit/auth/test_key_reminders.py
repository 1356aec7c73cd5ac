"""API key reminders: which one is due at a given moment, the contacts a key may carry, and what the emails say (never
the key)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from postman_auth.api_keys import clean_contacts
from postman_auth.key_reminders import KeyFacts, compose, due_reminder, recipients
from postman_shared.grpc.errors import ServiceError
from postman_shared.settings import Settings, SettingsError

DAYS = (30, 7, 1)
EXPIRES = datetime(2027, 1, 31, 8, 0, tzinfo=timezone.utc)
LONG_AGO = EXPIRES - timedelta(days=180)


def before_expiry(**delta: float) -> datetime:
    return EXPIRES - timedelta(**delta)


@pytest.mark.parametrize(("now", "due"), [
    (before_expiry(days=31), None),  # no reminder's moment has come
    (before_expiry(days=30, seconds=1), None),
    (before_expiry(days=30), 30),  # exactly at the moment
    (before_expiry(days=20), 30),
    (before_expiry(days=7, seconds=1), 30),
    (before_expiry(days=7), 7),
    (before_expiry(days=3), 7),
    (before_expiry(days=1), 1),
    (before_expiry(hours=2), 1),
    (before_expiry(seconds=1), 1),
    (EXPIRES, None),  # expired: nothing more to remind
    (EXPIRES + timedelta(days=1), None),
])
def test_the_reminder_due_is_the_fewest_days_whose_moment_has_come(now, due):
    assert due_reminder(LONG_AGO, EXPIRES, now, DAYS) == due


def test_a_reminder_whose_moment_came_before_the_key_existed_is_skipped():
    created = before_expiry(days=5)  # a key made for 5 days
    assert due_reminder(created, EXPIRES, created, DAYS) is None  # no 30- or 7-day reminder at creation
    assert due_reminder(created, EXPIRES, before_expiry(days=2), DAYS) is None
    assert due_reminder(created, EXPIRES, before_expiry(hours=23), DAYS) == 1
    made_for_exactly_30 = before_expiry(days=30)
    assert due_reminder(made_for_exactly_30, EXPIRES, made_for_exactly_30, DAYS) is None  # not at its creation
    assert due_reminder(made_for_exactly_30, EXPIRES, before_expiry(days=6), DAYS) == 7


def test_a_key_without_expiry_or_without_reminder_days_gets_none():
    assert due_reminder(LONG_AGO, None, before_expiry(days=1), DAYS) is None
    assert due_reminder(LONG_AGO, EXPIRES, before_expiry(days=1), ()) is None


def test_reminder_days_are_a_setting_read_strictly():
    assert Settings.from_env({}).api_key_reminder_days == (30, 7, 1)
    assert Settings.from_env({"API_KEY_REMINDER_DAYS": " 1, 14,7,14 "}).api_key_reminder_days == (14, 7, 1)
    assert Settings.from_env({"API_KEY_REMINDER_DAYS": ""}).api_key_reminder_days == ()
    with pytest.raises(SettingsError, match="API_KEY_REMINDER_DAYS must be whole numbers of days"):
        Settings.from_env({"API_KEY_REMINDER_DAYS": "30,a week"})
    with pytest.raises(SettingsError, match="API_KEY_REMINDER_DAYS must list days of at least 1"):
        Settings.from_env({"API_KEY_REMINDER_DAYS": "7,0"})


def test_contacts_must_be_in_the_installations_allowed_domains():
    from postman_auth.allowlist import DomainAllowlist

    allowed = DomainAllowlist.parse(".gov.sg;@partner.example.com").is_allowed
    assert clean_contacts(["a@tech.gov.sg", "B@Partner.Example.com"], allowed) == ["a@tech.gov.sg",
                                                                                "b@partner.example.com"]
    for outside in ("me@gmail.com", "me@gov.sg.evil.com", "me@evil-gov.sg", "me@sub.partner.example.com"):
        with pytest.raises(ServiceError) as refused:
            clean_contacts(["a@tech.gov.sg", outside], allowed)
        assert refused.value.message == ('"notification_contacts[1]" is not an address of a domain allowed to use '
                                         'Postman (DOMAIN_ALLOWLIST)')


def test_contacts_are_up_to_five_well_formed_addresses_each_once():
    assert clean_contacts([" Team@Tech.gov.sg ", "team@tech.gov.sg", "ops@agency.com"]) == [
        "team@tech.gov.sg", "ops@agency.com"]
    assert clean_contacts([]) == []
    with pytest.raises(ServiceError) as six:
        clean_contacts([f"p{n}@tech.gov.sg" for n in range(6)])
    assert six.value.code == "api_validation" and six.value.message == (
        '"notification_contacts" may list at most 5 email addresses, got 6')
    for bad in ("not-an-address", "a@b", "", "x@тech.gov.sg", "a@b@tech.gov.sg"):
        with pytest.raises(ServiceError) as refused:
            clean_contacts(["ok@tech.gov.sg", bad])
        assert refused.value.code == "api_validation"
        assert refused.value.message == '"notification_contacts[1]" is not an email address'


def test_the_owner_is_emailed_once_even_when_also_a_contact():
    assert recipients("me@tech.gov.sg", ["team@tech.gov.sg", "me@tech.gov.sg"]) == ["me@tech.gov.sg",
                                                                                   "team@tech.gov.sg"]


KEY = KeyFacts(label="Reminder <system>\nline two", last_five="x7Q2a", test=False, owner="me@tech.gov.sg",
               expires_at=EXPIRES, revoked_at=None)


def test_an_expiry_reminder_says_which_key_when_and_what_to_do():
    email = compose("expiry-7", KEY, "team@tech.gov.sg", "key-notice-9-1", "Postman <no@postman.gov.sg>",
                    "https://postman.example", before_expiry(days=7, seconds=5))
    assert email.subject == "Postman API key “Reminder <system> line two” expires in 7 days"
    assert "Reminder &lt;system&gt; line two" in email.body and "<system>" not in email.body
    assert "ending …x7Q2a" in email.text and "31 January 2027, 16:00 (Singapore time)" in email.text
    assert "https://postman.example/settings" in email.text
    assert "me@tech.gov.sg, who owns the key, named you" in email.text
    assert (email.message_id, email.to) == ("key-notice-9-1", "team@tech.gov.sg")
    to_owner = compose("expiry-1", KEY, "me@tech.gov.sg", "key-notice-9-0", "x", "https://p", before_expiry(hours=5))
    assert to_owner.subject.endswith("expires in 5 hours") and "the key is yours" in to_owner.text


def test_a_revocation_notice_says_when_it_was_revoked():
    revoked = KeyFacts(**{**KEY.__dict__, "revoked_at": before_expiry(days=100), "test": True})
    email = compose("revoked", revoked, "me@tech.gov.sg", "key-notice-3-0", "x", "https://p", EXPIRES)
    assert email.subject == "Postman API key “Reminder <system> line two” was revoked"
    assert "ending …x7Q2a, a test key" in email.text and "was revoked on 23 October 2026" in email.text

"""Unsubscribe links: signed per campaign and recipient, versioned keys, and no usable default outside local
development."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest

from postman_shared.settings import Settings, SettingsError
from postman_shared.unsubscribe_links import UnsubscribeLinks, is_local_development, parse_keys, parse_mailto_token

SETTINGS = replace(Settings.from_env({}), public_url="https://postman.example.gov.sg",
                   unsubscribe_keys="v2:a-new-key-of-some-length,v1:an-old-key-of-some-length",
                   unsubscribe_mailto="unsubscribe@bounces.agency.gov.sg")


def test_a_link_names_the_campaign_and_recipient_and_is_signed_with_the_first_key():
    links = UnsubscribeLinks.from_settings(SETTINGS)
    url = urlsplit(links.url(20, "ana/tan+news@example.com"))
    query = parse_qs(url.query)

    assert (url.scheme, url.netloc) == ("https", "postman.example.gov.sg")
    assert url.path == "/unsubscribe/20/ana%2Ftan+news@example.com"  # one path segment
    assert query["v"] == ["v2"] and len(query["h"][0]) == 64
    assert links.verify(20, "ana/tan+news@example.com", "v2", query["h"][0])


@pytest.mark.parametrize(("campaign", "recipient", "version"), [
    (21, "ana@example.com", "v2"), (20, "bob@example.com", "v2"), (20, "ana@example.com", "v1"),
    (20, "ana@example.com", "v3"),
])
def test_a_hash_verifies_only_for_its_own_campaign_recipient_and_key(campaign, recipient, version):
    links = UnsubscribeLinks.from_settings(SETTINGS)
    _, digest = links.sign(20, "ana@example.com")
    assert not links.verify(campaign, recipient, version, digest)


def test_a_link_of_a_key_still_listed_keeps_working_after_a_rotation():
    old = UnsubscribeLinks.from_settings(replace(SETTINGS, unsubscribe_keys="v1:an-old-key-of-some-length"))
    version, digest = old.sign(20, "ana@example.com")
    assert UnsubscribeLinks.from_settings(SETTINGS).verify(20, "ana@example.com", version, digest)


def test_the_mailto_form_carries_a_shortened_proof_that_verifies():
    links = UnsubscribeLinks.from_settings(SETTINGS)
    address = links.mailto_address(20, "ana@example.com")
    assert address is not None
    local, _, domain = address.rpartition("@")
    campaign, version, digest = parse_mailto_token(local, "unsubscribe")  # type: ignore[misc]

    assert domain == "bounces.agency.gov.sg" and len(local) <= 64
    assert (campaign, version) == (20, "v2")
    assert links.verify(20, "ana@example.com", version, digest)
    assert not links.verify(20, "bob@example.com", version, digest)
    assert parse_mailto_token("bounce+20.v2." + digest, "unsubscribe") is None
    assert UnsubscribeLinks.from_settings(replace(SETTINGS, unsubscribe_mailto="")).mailto_address(20, "a@b.sg") \
        is None


@pytest.mark.parametrize(("raw", "problem"), [
    ("just-a-secret-without-version", "<version>:<secret>"),
    ("v1:short", "too short"),
    ("v1:a-long-enough-secret-1,v1:a-long-enough-secret-2", "twice"),
    ("v 1:a-long-enough-secret-1", "letters, digits"),
])
def test_a_malformed_key_list_is_refused_with_what_is_wrong(raw, problem):
    with pytest.raises(SettingsError, match=problem):
        parse_keys(raw)


def test_without_keys_only_local_development_gets_the_development_key():
    local = UnsubscribeLinks.from_settings(replace(SETTINGS, unsubscribe_keys="", public_url="http://localhost:8080"))
    assert local.version == "dev1"
    with pytest.raises(SettingsError, match="UNSUBSCRIBE_KEYS must be set"):
        UnsubscribeLinks.from_settings(replace(SETTINGS, unsubscribe_keys=""))
    assert is_local_development("http://127.0.0.1:9000") and not is_local_development("https://localhost.evil.sg")


def test_a_mailto_setting_that_is_not_a_plain_address_is_refused():
    with pytest.raises(SettingsError, match="UNSUBSCRIBE_MAILTO"):
        UnsubscribeLinks.from_settings(replace(SETTINGS, unsubscribe_mailto="unsubscribe+x@bounces.gov.sg"))

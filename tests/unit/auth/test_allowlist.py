"""DOMAIN_ALLOWLIST: which addresses may sign in. Look-alikes of an allowed domain must never pass."""

from __future__ import annotations

import pytest

from postman_auth.allowlist import DomainAllowlist, is_well_formed, normalise_address
from postman_shared.settings import SettingsError

GOV_SG = DomainAllowlist.parse(".gov.sg")


@pytest.mark.parametrize("address", [
    "officer@tech.gov.sg",
    "officer@a.b.gov.sg",
    "first.last+tag@moe.gov.sg",
    "Officer@Tech.GOV.SG",
    "  officer@tech.gov.sg\t",
])
def test_subdomains_of_a_suffix_entry_are_allowed_in_any_case(address):
    assert GOV_SG.is_allowed(address)


@pytest.mark.parametrize("address", [
    "x@gov.sg",  # the suffix entry allows subdomains only: '@gov.sg' would allow this one
    "x@gov.sg.evil.com",
    "x@evil-gov.sg",
    "x@evilgov.sg",
    "x@tech.gov.sg.evil.com",
    "x@gov.sg.",
    "x@tech.gov.sg.",
    "x@tech.gov.sg@evil.com",
    "x@evil.com@tech.gov.sg",
    "x@tech..gov.sg",
    "x@-tech.gov.sg",
    "x@tech-.gov.sg",
    "x@tech_x.gov.sg",
    "@tech.gov.sg",
    "tech.gov.sg",
    "",
    "x@",
])
def test_look_alike_and_malformed_domains_are_refused(address):
    assert not GOV_SG.is_allowed(address)


@pytest.mark.parametrize("address", [
    "x@tech.g\u043ev.sg",  # Cyrillic о
    "x@tech.\uff47ov.sg",  # fullwidth ｇ
    "x@tech.\u0261ov.sg",  # Latin small letter script g
    "x@\u212aa.gov.sg",  # Kelvin sign: lower-cases to an ASCII 'k'
    "x@tech.gov.sg\u200b",  # zero-width space
    "x\u0131@tech.gov.sg",  # dotless i in the local part
    "x@tech\u3002gov.sg",  # ideographic full stop
])
def test_unicode_look_alikes_are_refused(address):
    assert not GOV_SG.is_allowed(address)


@pytest.mark.parametrize("address", ["x @tech.gov.sg", "x@tech .gov.sg", "x@tech.gov.sg\nbcc@tech.gov.sg",
                                     "x\t@tech.gov.sg", "x,y@tech.gov.sg", "<x@tech.gov.sg>"])
def test_whitespace_and_punctuation_inside_an_address_are_refused(address):
    assert not GOV_SG.is_allowed(address)


def test_an_at_entry_allows_exactly_that_domain():
    allowlist = DomainAllowlist.parse("@agency.com")
    assert allowlist.is_allowed("someone@agency.com")
    assert allowlist.is_allowed("someone@AGENCY.com")
    assert not allowlist.is_allowed("someone@sub.agency.com")
    assert not allowlist.is_allowed("someone@agency.com.evil.com")
    assert not allowlist.is_allowed("someone@evilagency.com")


def test_several_entries_with_spaces_and_empty_ones():
    allowlist = DomainAllowlist.parse(" .gov.sg ;; @Agency.com ; ")
    assert allowlist.suffixes == (".gov.sg",) and allowlist.exact_domains == ("agency.com",)
    assert allowlist.is_allowed("a@tech.gov.sg") and allowlist.is_allowed("a@agency.com")
    assert not allowlist.is_allowed("a@other.com")


def test_an_empty_setting_allows_nobody():
    assert not DomainAllowlist.parse("").is_allowed("a@tech.gov.sg")
    assert not DomainAllowlist.parse(" ; ").is_allowed("a@tech.gov.sg")


@pytest.mark.parametrize("entry", ["gov.sg", ".", "@", "@gov..sg", ".g\u043ev.sg", "*.gov.sg", "@sg"])
def test_an_entry_that_cannot_be_understood_is_a_settings_error_naming_it(entry):
    with pytest.raises(SettingsError, match="DOMAIN_ALLOWLIST entry"):
        DomainAllowlist.parse(f".gov.sg;{entry}")


def test_addresses_are_normalised_by_trimming_and_lower_casing():
    assert normalise_address("  Officer@Tech.Gov.SG ") == "officer@tech.gov.sg"
    assert is_well_formed("officer@tech.gov.sg") and not is_well_formed("officer@@tech.gov.sg")

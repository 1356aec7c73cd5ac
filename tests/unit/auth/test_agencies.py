"""What an agency may be called and show, and which domains an address is in."""

from __future__ import annotations

import pytest

from postman_auth.agencies import checked_domain, checked_logo_uri, checked_name, parent_domains
from postman_shared.grpc.errors import ServiceError


def test_an_address_is_in_its_domain_and_every_domain_above_it():
    assert parent_domains("clinic.moh.gov.sg") == ["clinic.moh.gov.sg", "moh.gov.sg", "gov.sg", "sg"]


@pytest.mark.parametrize("uri", ["https://www.moh.gov.sg/logo.png", "HTTPS://cdn.example.com/a/b.svg?v=2", ""])
def test_an_https_logo_is_kept_and_empty_means_none(uri):
    assert checked_logo_uri(f"  {uri} ") == uri


@pytest.mark.parametrize("uri", ["http://www.moh.gov.sg/logo.png", "javascript:alert(1)", "//cdn.example.com/a.png",
                                 "https:///nohost.png", 'https://x.sg/a"b.png', "https://x.sg/a b.png",
                                 "https://x.sg/<a>.png", "https://x.sg/ä.png", "https://x.sg/" + "a" * 2100,
                                 "data:image/png;base64,AAAA"])
def test_a_logo_that_is_not_a_plain_https_url_is_refused(uri):
    with pytest.raises(ServiceError) as refused:
        checked_logo_uri(uri)
    assert refused.value.code == "invalid_parameters" and "https://" in refused.value.message


def test_names_are_one_line_and_domains_are_lower_cased_domains():
    assert checked_name("  Ministry  of\tHealth ") == "Ministry of Health"
    assert checked_domain(" @MOH.gov.sg. ") == "moh.gov.sg"
    for bad_name in ("", "   ", "x" * 256, "A\x00B"):
        with pytest.raises(ServiceError):
            checked_name(bad_name)
    for bad_domain in ("sg", "not a domain", "-x.gov.sg", "mоh.gov.sg"):  # the last has a Cyrillic о
        with pytest.raises(ServiceError):
            checked_domain(bad_domain)

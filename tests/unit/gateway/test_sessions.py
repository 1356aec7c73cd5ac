"""The session cookie's attributes follow the settings; the Origin check knows our site from others."""

from __future__ import annotations

from dataclasses import replace

import pytest

from postman_gateway.core.sessions import CookiePolicy, origin_of, secure_cookie
from postman_shared.settings import Settings

BASE = Settings.from_env({})


def with_(public_url, cookie_secure="auto"):
    return replace(BASE, public_url=public_url, cookie_secure=cookie_secure)


@pytest.mark.parametrize(
    ("public_url", "secure"),
    [
        ("http://localhost:8080", False),
        ("http://127.0.0.1:8080", False),
        ("https://localhost:8443", True),
        ("https://postman.gov.sg", True),
        ("http://postman.internal", True),  # plain http elsewhere still gets Secure: a misconfiguration shows
        ("http://localhost.evil.com", True),
    ],
)
def test_auto_makes_the_cookie_secure_except_on_plain_http_localhost(public_url, secure):
    assert secure_cookie(with_(public_url)) is secure


def test_cookie_secure_true_or_false_overrides_the_url():
    assert secure_cookie(with_("http://localhost:8080", "true")) is True
    assert secure_cookie(with_("https://postman.gov.sg", "false")) is False


def test_max_age_is_the_session_lifetime():
    policy = CookiePolicy.from_settings(replace(BASE, session_ttl_hours=24))
    assert policy.max_age_seconds == 86400


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Postman.gov.sg/", "https://postman.gov.sg"),
        ("https://postman.gov.sg:443", "https://postman.gov.sg"),
        ("http://localhost:8080/v1", "http://localhost:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("null", ""),
        ("http://host:notaport", ""),
    ],
)
def test_origin_of_writes_an_origin_as_browsers_do(url, origin):
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    ("origin", "cross_site"),
    [
        (None, False),
        ("https://postman.gov.sg", False),
        ("https://postman.gov.sg:443", False),
        ("https://evil.example", True),
        ("https://postman.gov.sg.evil.example", True),
        ("http://postman.gov.sg", True),
        ("null", True),
        ("", True),
    ],
)
def test_is_cross_site_compares_with_the_public_url(origin, cross_site):
    policy = CookiePolicy.from_settings(with_("https://postman.gov.sg"))
    assert policy.is_cross_site(origin) is cross_site

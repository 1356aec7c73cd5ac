"""The gateway's web hardening (issue 13): the return address after signing in can never send the browser to
another site, and nothing that is about one person (keys, signed-in pages, sign-in itself) may be kept by a cache,
while the public static assets keep their caching."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote, urlsplit

import pytest

from postman_gateway.web.return_address import safe_next
from tests.integration.gateway.conftest import (  # noqa: F401 - fixtures of these tests
    app,
    auth_service,
    http,
    new_address,
    new_caller,
    one_time_password,
    pipeline,
    sign_in,
)
from tests.integration.web.conftest import csrf_token, post_form, web_sign_in  # noqa: F401 - a fixture

# Return addresses that lead, or could lead, a browser to another host, or that would inject a header. Each is the
# value the gateway receives (already percent-decoded once by the query or form parser).
HOSTILE_RETURNS = [
    "/\t/evil.example",  # next=/%09/evil.example: Werkzeug wrote "Location: //evil.example"
    "/\t\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "/\x00/evil.example",
    "/\x7f/evil.example",
    "/\u200b/evil.example",  # zero-width space
    "/\u202e/evil.example",  # right-to-left override
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "\\\\evil.example",
    "/%5Cevil.example",  # decodes to a backslash
    "/%5cevil.example",
    "/%2F/evil.example",  # decodes to //evil.example
    "/%2f%2fevil.example",
    "/%09/evil.example",  # a tab still encoded once more
    "/%0d%0aLocation: https://evil.example",
    "/\r\nLocation: https://evil.example",  # a header injection: was a 500
    "/ /evil.example",
    "/\u3000/evil.example",  # ideographic space
    "https://evil.example",
    "https:/evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    " /campaigns",
    "evil.example",
    "",
    "/" + "a" * 5000,
]
SAFE_RETURNS = ["/campaigns", "/campaigns/12/review?tested=1", "/settings?x=1", "/caf%C3%A9", "/campaigns#top"]


def stays_on_the_site(location: str) -> bool:
    """A Location the browser follows to this site: one leading slash, nothing a browser drops or turns into a
    slash, no scheme and no host."""
    if not location.startswith("/") or location.startswith("//") or "\\" in location:
        return False
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in location):
        return False
    parts = urlsplit(location)
    return not parts.scheme and not parts.netloc


@pytest.mark.parametrize("target", HOSTILE_RETURNS)
def test_a_return_address_that_could_leave_the_site_is_replaced_by_the_default(target):
    assert safe_next(target) == "/campaigns"


@pytest.mark.parametrize("target", SAFE_RETURNS)
def test_a_return_address_on_the_site_is_kept(target):
    assert safe_next(target) == target


@pytest.mark.usefixtures("pipeline")
def test_the_tab_trick_does_not_leave_the_site_after_a_real_sign_in(app, amqp_channel):  # noqa: F811 - imported fixtures
    """The reported attack: a link to ``/sign-in?next=/%09/evil.example``; the officer signs in for real."""
    browser = app.test_client()
    email = new_address()
    asked = browser.get("/sign-in?next=/%09/evil.example")
    assert asked.status_code == 200
    sent = browser.post("/sign-in", data={"csrf_token": csrf_token(asked), "email": email,
                                          "next": "/\t/evil.example"})
    assert sent.status_code == 303 and stays_on_the_site(sent.headers["Location"]), sent.headers["Location"]
    password_page = browser.get(sent.headers["Location"])
    signed_in = browser.post("/sign-in/password", data={
        "csrf_token": csrf_token(password_page), "email": email, "next": "/\t/evil.example",
        "password": one_time_password(amqp_channel, email)})
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == "/campaigns"


@pytest.mark.usefixtures("pipeline")
def test_no_hostile_return_address_leaves_the_site_once_signed_in(web_sign_in):  # noqa: F811 - imported fixtures
    """Signed in, ``/sign-in?next=...`` and ``/sign-in/password?next=...`` redirect at once: every payload, sent
    raw in the query string as an attacker's link would, gives a Location on this site."""
    officer = web_sign_in()
    for target in HOSTILE_RETURNS:
        for page in ("/sign-in", "/sign-in/password?email=x@agency.gov.sg&"):
            joiner = "&" if page.endswith("&") else "?"
            url = page.rstrip("&") + joiner + "next=" + quote(target, safe="/:%")
            response = officer.client.get(url)
            assert response.status_code == 302, (target, response.status_code)
            location = response.headers["Location"]
            assert stays_on_the_site(location) and location == "/campaigns", (target, location)
    for target in SAFE_RETURNS:
        response = officer.client.get("/sign-in?next=" + quote(target, safe="/?=%#"))
        assert response.headers["Location"] == target.split("#")[0] or response.headers["Location"] == target


# -- Cache-Control -------------------------------------------------------------------------------------------------

def no_store(response) -> bool:
    return response.headers.get("Cache-Control") == "no-store"


@pytest.mark.usefixtures("pipeline")
def test_a_new_api_key_and_the_key_list_are_never_stored_by_a_cache(sign_in):  # noqa: F811 - imported fixtures
    browser = sign_in()
    created = browser.client.post("/v1/api-key", json={"label": "ci"})
    assert created.status_code == 201 and "api_key" in created.json
    assert no_store(created), created.headers
    listed = browser.client.get("/v1/api-key")
    assert listed.status_code == 200 and no_store(listed)
    assert no_store(browser.client.get("/v1/auth/userinfo"))


@pytest.mark.usefixtures("pipeline")
def test_api_responses_to_an_api_key_are_never_stored(http, new_caller):  # noqa: F811 - imported fixtures
    caller = new_caller()
    created = http.post("/v1/campaigns", headers=caller.headers, json={"name": "Cached?", "type": "EMAIL"})
    assert created.status_code == 201 and no_store(created)
    got = http.get(f"/v1/campaign/{created.json['id']}/email", headers=caller.headers)
    assert got.status_code == 200 and no_store(got)
    listed = http.get("/v1/campaigns", headers=caller.headers)
    assert listed.status_code == 200 and no_store(listed)


@pytest.mark.usefixtures("pipeline")
def test_sign_in_and_signed_in_pages_are_never_stored(app, amqp_channel, web_sign_in):  # noqa: F811 - imported fixtures
    visitor = app.test_client()
    form = visitor.get("/sign-in")
    assert form.status_code == 200 and no_store(form)  # carries a CSRF token bound to a fresh cookie
    email = new_address()
    requested = visitor.post("/v1/auth/otp", json={"email": email})
    assert requested.status_code == 200 and no_store(requested)
    login = visitor.post("/v1/auth/login", json={"email": email, "otp": one_time_password(amqp_channel, email)})
    assert login.status_code == 200 and no_store(login)  # sets the session cookie

    officer = web_sign_in()
    for page in ("/campaigns", "/settings", "/campaigns/new"):
        response = officer.client.get(page)
        assert response.status_code == 200, page
        assert no_store(response), (page, response.headers.get("Cache-Control"))


@pytest.mark.usefixtures("pipeline")
def test_public_static_assets_keep_their_caching(app, web_sign_in):  # noqa: F811 - imported fixtures
    officer = web_sign_in()
    for client in (app.test_client(), officer.client):  # signed out, and with a session cookie
        for asset in ("/static/css/app.css", "/docs/static/reference.css"):
            response = client.get(asset)
            assert response.status_code == 200, asset
            assert "no-store" not in response.headers.get("Cache-Control", ""), asset
            assert response.headers.get("ETag") or response.headers.get("Last-Modified")
        assert "no-store" not in client.get("/v1/ping").headers.get("Cache-Control", "")
        assert "no-store" not in client.get("/v1/openapi.json").headers.get("Cache-Control", "")


@pytest.mark.usefixtures("pipeline")
def test_a_recipients_own_pages_are_never_stored(app):  # noqa: F811 - an imported fixture
    """Opened without an account, often on a shared computer: an unsubscribe page names the recipient's address and
    a protected message's page and open call carry its ciphertext."""
    visitor = app.test_client()
    message_id = "0b8f3c1e-5d7a-4c2b-9e61-3f0a2d4b6c8e"
    responses = {
        "protected page": visitor.get(f"/p/2/{message_id}"),
        "protected open": visitor.post(f"/v1/protect/{message_id}", json={"password_hash": "x" * 44}),
        "unsubscribe page": visitor.get("/unsubscribe/1/someone%40example.com?v=2&h=abc"),
        "unsubscribe api": visitor.put("/v1/unsubscribe/1/someone%40example.com", json={"v": "2", "h": "abc"}),
    }
    for what, response in responses.items():
        assert response.status_code < 500, what
        assert no_store(response), (what, response.status_code, response.headers.get("Cache-Control"))

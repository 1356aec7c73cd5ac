"""Signing in and out through the pages: the one-time password journey, its errors on the form, sign-out that ends
the session server-side, the CSRF check of every form, and the security headers of a page."""

from __future__ import annotations

from dataclasses import replace

import pytest

from postman_gateway.app import create_app
from tests.integration.gateway.conftest import module_pipeline as module_pipeline  # noqa: F401 - fixture
from tests.integration.gateway.conftest import new_address, one_time_password
from tests.integration.web.conftest import csrf_token, post_form

pytestmark = pytest.mark.usefixtures("pipeline")


@pytest.fixture
def settings(module_pipeline):
    """The module's settings: its tests share the pipeline, started once (each test has its own app and users)."""
    return module_pipeline


@pytest.fixture
def pipeline(module_pipeline):
    """The module's pipeline."""


def test_a_visitor_is_sent_to_sign_in_and_comes_back_to_the_page_they_asked_for(app, amqp_channel):
    browser = app.test_client()
    asked = browser.get("/settings?x=1")
    assert asked.status_code == 302 and asked.headers["Location"] == "/sign-in?next=/settings?x=1"

    email = new_address()
    sent = post_form(browser, asked.headers["Location"], "/sign-in", email=email, next="/settings?x=1")
    assert sent.status_code == 303
    password_page = browser.get(sent.headers["Location"])
    page = password_page.get_data(as_text=True)
    assert "We sent a one-time password to <strong>" + email in page and "valid for" in page
    assert 'id="send-another"' in page

    signed_in = browser.post("/sign-in/password", data={
        "csrf_token": csrf_token(password_page), "email": email, "next": "/settings?x=1",
        "password": one_time_password(amqp_channel, email)})
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/settings?x=1"
    settings = browser.get("/settings")
    assert settings.status_code == 200 and email in settings.get_data(as_text=True)  # the header's sign-out button
    assert browser.get("/sign-in").headers["Location"] == "/campaigns"  # already signed in


def test_a_return_address_on_another_site_is_not_followed(app, amqp_channel):
    browser = app.test_client()
    email = new_address()
    post_form(browser, "/sign-in", email=email)
    signed_in = post_form(browser, "/sign-in/password?email=" + email, "/sign-in/password", email=email,
                          next="//evil.example/x", password=one_time_password(amqp_channel, email))
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/campaigns"


def test_a_wrong_password_is_shown_in_the_error_summary_linked_to_the_field(app, amqp_channel):
    browser = app.test_client()
    email = new_address()
    post_form(browser, "/sign-in", email=email)
    one_time_password(amqp_channel, email)
    wrong = post_form(browser, "/sign-in/password?email=" + email, "/sign-in/password", email=email,
                      password="XXXXXX")
    page = wrong.get_data(as_text=True)
    assert wrong.status_code == 400
    assert "<title>Error: " in page and 'class="error-summary"' in page
    assert '<a href="#password">Wrong or expired one-time password. You have 3 tries left.</a>' in page
    assert 'id="password-error"' in page and 'aria-describedby="password-hint password-error"' in page
    assert browser.get_cookie("postman_session") is None


@pytest.mark.parametrize("email, words", [
    ("", "Enter your email address"),
    ("not-an-address", "is not an email address"),
])
def test_an_address_auth_refuses_is_shown_on_the_email_field(app, email, words):
    browser = app.test_client()
    refused = post_form(browser, "/sign-in", email=email)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and '<a href="#email">' in page and words in page
    assert 'id="email-error"' in page


def test_sign_out_ends_the_session_everywhere_and_says_so(web_sign_in, app):
    officer = web_sign_in()
    token = officer.client.get_cookie("postman_session").value
    signed_out = post_form(officer.client, "/campaigns", "/sign-out")
    assert signed_out.status_code == 303 and signed_out.headers["Location"] == "/sign-in?signed_out=1"
    assert officer.client.get_cookie("postman_session") is None
    assert "You have signed out." in officer.client.get("/sign-in?signed_out=1").get_data(as_text=True)

    stolen = app.test_client()
    stolen.set_cookie("postman_session", token)
    assert stolen.get("/campaigns").status_code == 302  # the token is revoked server-side, not only forgotten
    assert stolen.get("/v1/auth/userinfo").status_code == 401


@pytest.mark.parametrize("token", [None, "0" * 64, "not-hex"])
def test_a_form_without_the_right_csrf_token_is_refused_and_changes_nothing(web_sign_in, token):
    officer = web_sign_in()
    fields = {"label": "from another site"} | ({"csrf_token": token} if token else {})
    refused = officer.client.post("/settings/api-keys/new", data=fields)
    assert refused.status_code == 400
    assert "This form has expired or did not come from this site" in refused.get_data(as_text=True)
    assert "from another site" not in officer.text("/settings")  # no key was made

    kept = officer.client.post("/sign-out", data=fields)
    assert kept.status_code == 400 and officer.client.get("/campaigns").status_code == 200  # still signed in


def test_a_token_from_another_session_does_not_pass(web_sign_in):
    first, second = web_sign_in(), web_sign_in()
    token_of_first = csrf_token(first.client.get("/settings/api-keys/new"))
    refused = second.client.post("/settings/api-keys/new", data={"csrf_token": token_of_first, "label": "x"})
    assert refused.status_code == 400


def test_a_page_carries_the_security_headers(settings):
    browser = create_app(replace(settings, public_url="https://postman.example.gov.sg")).test_client()
    page = browser.get("/sign-in")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "<script>" not in page.get_data(as_text=True) and " style=" not in page.get_data(as_text=True)

"""The development outbox: a newcomer signs in with the password found through the sign-in page's outbox link
(sender-email writing real ``.eml`` files with its outbox transport), then lists and reads the outbox. Only password
emails to their own address are shown; file names from the address bar never leave the folder."""

from __future__ import annotations

import os
import re
from dataclasses import replace

import pytest

from postman_gateway.app import create_app
from tests.integration.gateway.conftest import new_address, poll
from tests.integration.web.conftest import csrf_token, post_form
from tests.support.inprocess import running


@pytest.fixture
def services(settings):
    with running(settings, "auth", "campaign", "stats", "sender-email"):
        yield


def sign_in_through_the_outbox(app, email: str):
    """The newcomer's way in: ask for a password, follow the page's outbox link, read it, type it."""
    browser = app.test_client()
    asked = post_form(browser, "/sign-in", email=email)
    password_page = browser.get(asked.headers["Location"])
    link = re.search(r'href="(/outbox/latest\?to=[^"]+)"', password_page.get_data(as_text=True))
    assert link, "no link to the outbox on the password page"
    latest = poll(lambda: browser.get(link.group(1).replace("&amp;", "&")), lambda r: r.status_code == 200,
                  "the password email in the outbox")
    page = latest.get_data(as_text=True)
    assert "Your Postman one-time password" in page and latest.headers["Cache-Control"] == "no-store"
    password = re.search(r"Your one-time password for Postman is:</p><p>([^<]{6})</p>", page).group(1)
    signed_in = browser.post("/sign-in/password", data={"csrf_token": csrf_token(password_page), "email": email,
                                                        "password": password})
    assert signed_in.status_code == 303, signed_in.get_data(as_text=True)
    return browser


@pytest.mark.usefixtures("services")
def test_a_newcomer_signs_in_with_the_password_from_the_outbox_and_reads_it_there(app, settings):
    email = new_address()
    browser = sign_in_through_the_outbox(app, email)

    listing = browser.get("/outbox")
    page = listing.get_data(as_text=True)
    assert listing.status_code == 200 and email in page and "Your Postman one-time password" in page
    name = re.search(r'href="/outbox/(otp-[0-9a-f-]+\.eml)"', page).group(1)

    shown = browser.get(f"/outbox/{name}")
    assert shown.status_code == 200 and f'<dd id="email-to">{email}</dd>' in shown.get_data(as_text=True)
    assert f'<iframe class="outbox-frame" src="/outbox/{name}/body" sandbox' in shown.get_data(as_text=True)
    body = browser.get(f"/outbox/{name}/body")
    assert body.status_code == 200 and "one-time password for Postman" in body.get_data(as_text=True)
    assert body.headers["Content-Security-Policy"].startswith("sandbox;")
    assert "script-src" not in body.headers["Content-Security-Policy"]  # default-src 'none' covers scripts
    assert body.headers["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.usefixtures("services")
def test_password_emails_to_other_addresses_are_neither_listed_nor_shown(app, settings):
    other = new_address()
    post_form(app.test_client(), "/sign-in", email=other)
    browser = sign_in_through_the_outbox(app, new_address())  # after the other's email was asked for
    poll(lambda: [n for n in os.listdir(settings.outbox_dir) if n.startswith("otp-")], lambda names: len(names) == 2,
         "both password emails written")
    theirs = next(name for name in os.listdir(settings.outbox_dir)
                  if other in (settings.outbox_dir / name).read_text(errors="replace"))
    assert other not in browser.get("/outbox").get_data(as_text=True)
    assert browser.get(f"/outbox/{theirs}").status_code == 404
    assert browser.get(f"/outbox/{theirs}/body").status_code == 404


@pytest.mark.usefixtures("services")
def test_names_that_are_not_files_of_the_folder_are_refused(app, settings, tmp_path):
    browser = sign_in_through_the_outbox(app, new_address())
    secret = tmp_path / "secret.eml"
    secret.write_text("To: x@example.com\r\nSubject: classified\r\n\r\nclassified words")
    (settings.outbox_dir / "link.eml").symlink_to(secret)
    for name in ("link.eml", "..%2Fsecret.eml", "../secret.eml", "%2E%2E%2Fsecret.eml", ".hidden.eml",
                 "missing.eml", "x" * 300 + ".eml"):
        for suffix in ("", "/body"):
            refused = browser.get(f"/outbox/{name}{suffix}")
            assert refused.status_code == 404, (name, suffix)
            assert "classified" not in refused.get_data(as_text=True)
    assert "link.eml" not in browser.get("/outbox").get_data(as_text=True)


def test_signed_out_the_outbox_is_closed_and_the_password_shortcut_needs_a_local_public_url(app, settings):
    signed_out = app.test_client()
    assert signed_out.get("/outbox").headers["Location"] == "/sign-in?next=/outbox"
    public = create_app(replace(settings, public_url="https://postman.example.gov.sg")).test_client()
    assert public.get("/outbox/latest?to=someone@agency.gov.sg").status_code == 404


def test_the_outbox_pages_do_not_exist_with_another_email_transport(settings):
    browser = create_app(replace(settings, email_transport="smtp")).test_client()
    assert browser.get("/outbox").status_code == 404
    assert browser.get("/outbox/latest?to=someone@agency.gov.sg").status_code == 404

"""Signing in through the gateway against the real auth service: one-time password, session cookie, API keys,
sign-out. The password is read from the email the auth service puts on the priority queue."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from postman_auth.models import ApiKey
from postman_gateway.app import create_app
from tests.integration.gateway.conftest import new_address, one_time_password

pytestmark = pytest.mark.usefixtures("auth_service")


@pytest.fixture
def settings(module_auth_service):
    """The module's settings: its tests share the auth service, started once (each test has its own app and users)."""
    return module_auth_service


@pytest.fixture
def auth_service(module_auth_service):
    """The module's auth service."""


def set_cookie_header(response):
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("postman_session=")]
    assert len(cookies) == 1, response.headers
    return {part.strip() for part in cookies[0].split(";")}


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def test_login_sets_an_httponly_samesite_strict_cookie_for_the_session_lifetime(app, amqp_channel, settings):
    email = new_address()
    browser = app.test_client()
    requested = browser.post("/v1/auth/otp", json={"email": email})
    assert requested.status_code == 200, requested.json
    assert email in requested.json["message"]

    login = browser.post("/v1/auth/login", json={"email": email, "otp": one_time_password(amqp_channel, email)})

    assert login.status_code == 200, login.json
    assert login.json["email"] == email
    assert login.json["authenticated_by"] == "session"
    attributes = set_cookie_header(login)
    assert {"HttpOnly", "SameSite=Strict", "Path=/", f"Max-Age={settings.session_ttl_hours * 3600}"} <= attributes
    assert "Secure" not in attributes  # PUBLIC_URL is plain http on localhost
    token = browser.get_cookie("postman_session").value
    assert token and token not in str(login.json)


def test_the_cookie_is_secure_when_the_settings_say_so(settings, amqp_channel):
    with_secure = create_app(replace(settings, cookie_secure="true")).test_client()
    email = new_address()
    assert with_secure.post("/v1/auth/otp", json={"email": email}).status_code == 200
    login = with_secure.post("/v1/auth/login", json={"email": email, "otp": one_time_password(amqp_channel, email)})
    assert login.status_code == 200, login.json
    assert "Secure" in set_cookie_header(login)


def test_userinfo_answers_for_a_session_and_for_an_api_key(http, sign_in):
    officer = sign_in()
    by_session = officer.client.get("/v1/auth/userinfo")
    assert by_session.status_code == 200, by_session.json
    assert by_session.json == {"id": officer.user_id, "email": officer.email, "rate_limit": 10,
                               "authenticated_by": "session"}

    key = officer.client.post("/v1/api-key", json={"label": "laptop"}).json["api_key"]
    by_key = http.get("/v1/auth/userinfo", headers=bearer(key))
    assert by_key.json == {**by_session.json, "authenticated_by": "api_key"}


def test_a_wrong_password_is_401_and_sets_no_cookie(app, amqp_channel):
    email = new_address()
    browser = app.test_client()
    assert browser.post("/v1/auth/otp", json={"email": email}).status_code == 200
    right = one_time_password(amqp_channel, email)
    wrong = "A" * len(right) if right != "A" * len(right) else "B" * len(right)

    login = browser.post("/v1/auth/login", json={"email": email, "otp": wrong})

    assert (login.status_code, login.json["code"]) == (401, "unathenticated")
    assert "Set-Cookie" not in login.headers
    assert browser.get("/v1/auth/userinfo").status_code == 401


@pytest.mark.parametrize("email", ["someone@gmail.com", "officer@gov.sg.evil.com", "officer@evil-gov.sg"])
def test_an_address_outside_the_allowlist_gets_403(http, email):
    response = http.post("/v1/auth/otp", json={"email": email})
    assert (response.status_code, response.json["code"]) == (403, "unauthorized")


def test_asking_again_too_soon_is_429_with_retry_after(http, amqp_channel):
    email = new_address()
    assert http.post("/v1/auth/otp", json={"email": email}).status_code == 200
    again = http.post("/v1/auth/otp", json={"email": email})
    assert (again.status_code, again.json["code"]) == (429, "rate_limit")
    assert 1 <= int(again.headers["Retry-After"]) <= 30


def test_a_missing_email_names_the_field(http):
    response = http.post("/v1/auth/otp", json={})
    assert (response.status_code, response.json["message"]) == (400, '"email" is required')


def test_create_list_and_revoke_api_keys(http, sign_in):
    officer = sign_in()
    created = officer.client.post("/v1/api-key", json={"label": "laptop"})
    assert created.status_code == 201, created.json
    key = created.json["api_key"]
    assert list(created.json) == ["id", "label", "api_key", "last_five", "created_at", "expires_at", "test",
                                  "notification_contacts"]
    assert created.json["test"] is False and created.json["api_key"].startswith("live_v1_")
    assert created.json["last_five"] == key[-5:]
    assert created.json["expires_at"] > created.json["created_at"]

    listed = officer.client.get("/v1/api-key")
    assert listed.status_code == 200
    assert listed.json == [{"id": created.json["id"], "label": "laptop", "last_five": key[-5:],
                            "created_at": created.json["created_at"], "last_used_at": None,
                            "expires_at": created.json["expires_at"], "test": False,
                            "notification_contacts": []}]
    assert key not in listed.get_data(as_text=True)

    assert http.get("/v1/auth/userinfo", headers=bearer(key)).status_code == 200

    revoked = officer.client.delete(f"/v1/api-key/{created.json['id']}")
    assert (revoked.status_code, revoked.json) == (200, {"id": created.json["id"]})
    refused = http.get("/v1/auth/userinfo", headers=bearer(key))
    assert (refused.status_code, refused.json["code"]) == (401, "unathenticated")
    assert officer.client.get("/v1/api-key").json == []


def test_a_key_carries_up_to_five_notification_contacts_shown_when_created_and_listed(sign_in):
    officer = sign_in()
    created = officer.client.post("/v1/api-key", json={
        "label": "ci", "notification_contacts": [" Team@Tech.gov.sg", "ops@agency.gov.sg", "team@tech.gov.sg"]})
    assert created.status_code == 201, created.json
    assert created.json["notification_contacts"] == ["team@tech.gov.sg", "ops@agency.gov.sg"]
    assert officer.client.get("/v1/api-key").json[0]["notification_contacts"] == ["team@tech.gov.sg",
                                                                                  "ops@agency.gov.sg"]
    none = officer.client.post("/v1/api-key", json={"label": "ci", "notification_contacts": None})
    assert none.status_code == 201 and none.json["notification_contacts"] == []


@pytest.mark.parametrize(("contacts", "message"), [
    ([f"p{n}@tech.gov.sg" for n in range(6)], '"notification_contacts" may list at most 5 email addresses, got 6'),
    (["ok@tech.gov.sg", "not an address"], '"notification_contacts[1]" is not an email address'),
    (["ok@tech.gov.sg", ""], '"notification_contacts[1]" is not an email address'),
    (["ok@tech.gov.sg", "me@gmail.com"], '"notification_contacts[1]" is not an address of a domain allowed to use '
                                         'Postman (DOMAIN_ALLOWLIST)'),
    (["ok@tech.gov.sg", "me@gov.sg.evil.com"], '"notification_contacts[1]" is not an address of a domain allowed '
                                               'to use Postman (DOMAIN_ALLOWLIST)'),
    ("team@tech.gov.sg", '"notification_contacts" must be an array of email addresses'),
    ([{"email": "team@tech.gov.sg"}], '"notification_contacts" must be an array of email addresses'),
])
def test_bad_notification_contacts_are_a_400_naming_the_field_and_make_no_key(sign_in, contacts, message):
    officer = sign_in()
    refused = officer.client.post("/v1/api-key", json={"label": "ci", "notification_contacts": contacts})
    assert (refused.status_code, refused.json["code"], refused.json["message"]) == (400, "api_validation", message)
    assert officer.client.get("/v1/api-key").json == []


def test_an_expired_key_fails_at_once(http, sign_in, database):
    officer = sign_in()
    created = officer.client.post("/v1/api-key", json={"label": "old"}).json
    assert http.get("/v1/auth/userinfo", headers=bearer(created["api_key"])).status_code == 200
    with database.unit_of_work() as session:
        session.execute(update(ApiKey).where(ApiKey.id == created["id"])
                        .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))

    refused = http.get("/v1/auth/userinfo", headers=bearer(created["api_key"]))

    assert (refused.status_code, refused.json["code"]) == (401, "unathenticated")


def test_logout_ends_the_session_server_side(app, sign_in):
    officer = sign_in()
    token = officer.session_token

    logout = officer.client.get("/v1/auth/logout")

    assert logout.status_code == 200, logout.json
    assert officer.client.get_cookie("postman_session") is None
    replayed = app.test_client()
    replayed.set_cookie("postman_session", token)  # the same cookie, kept by someone who copied it
    response = replayed.get("/v1/auth/userinfo")
    assert (response.status_code, response.json["code"]) == (401, "unathenticated")


def test_a_tampered_cookie_is_401_and_cleared(sign_in):
    officer = sign_in()
    token = officer.session_token
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    officer.client.set_cookie("postman_session", tampered)

    response = officer.client.get("/v1/auth/userinfo")

    assert (response.status_code, response.json["code"]) == (401, "unathenticated")
    assert officer.client.get_cookie("postman_session") is None


def test_a_cross_site_origin_with_the_cookie_is_refused(sign_in):
    officer = sign_in()
    response = officer.client.post("/v1/api-key", json={"label": "forged"},
                                   headers={"Origin": "https://evil.example"})
    assert (response.status_code, response.json["code"]) == (403, "unauthorized")
    assert officer.client.get("/v1/api-key").json == []

    same_site = officer.client.post("/v1/api-key", json={"label": "mine"}, headers={"Origin": "http://localhost:8080"})
    assert same_site.status_code == 201, same_site.json


def test_a_login_from_a_cross_site_page_is_refused(app, amqp_channel):
    email = new_address()
    browser = app.test_client()
    assert browser.post("/v1/auth/otp", json={"email": email}).status_code == 200
    otp = one_time_password(amqp_channel, email)

    forged = browser.post("/v1/auth/login", json={"email": email, "otp": otp},
                          headers={"Origin": "https://evil.example"})

    assert (forged.status_code, forged.json["code"]) == (403, "unauthorized")
    assert browser.get_cookie("postman_session") is None
    assert browser.post("/v1/auth/login", json={"email": email, "otp": otp}).status_code == 200  # try not spent


def test_logout_with_an_api_key_is_refused(http, sign_in):
    key = sign_in().client.post("/v1/api-key", json={"label": "ci"}).json["api_key"]
    response = http.get("/v1/auth/logout", headers=bearer(key))
    assert (response.status_code, response.json["code"]) == (403, "unauthorized")


def test_neither_a_key_nor_a_session_token_nor_a_password_is_logged(app, amqp_channel, capfd):
    email = new_address()
    browser = app.test_client()
    requested = browser.post("/v1/auth/otp", json={"email": email}, headers={"X-Request-Id": "otp-marker-1"})
    assert requested.status_code == 200
    otp = one_time_password(amqp_channel, email)
    assert browser.post("/v1/auth/login", json={"email": email, "otp": otp}).status_code == 200
    token = browser.get_cookie("postman_session").value
    key = browser.post("/v1/api-key", json={"label": "laptop"}).json["api_key"]
    assert app.test_client().get("/v1/auth/userinfo", headers=bearer(key)).status_code == 200
    browser.get("/v1/auth/logout")

    logged = "".join(capfd.readouterr())
    # The logs were captured (the auth service's line of that request): the secrets below are absent, not just unseen.
    assert "one-time password sent" in logged and "otp-marker-1" in logged
    secrets_ = [token, key, key[len("live_v1_"):], email]  # the address too: personal data stays out at info level
    if not otp.isdigit():  # six digits could turn up in a timestamp by chance
        secrets_.append(otp)
    for secret in secrets_:
        assert secret not in logged

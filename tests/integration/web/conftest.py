"""Web page fixtures: the gateway app (the gateway tests' fixtures, imported), in-process services, and a browser
stand-in (Flask's test client, which keeps cookies) that signs in through the pages themselves: the email form, the
emailed one-time password, the password form — each POST carrying the CSRF token of the page it came from."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.integration.gateway.conftest import (  # noqa: F401 - fixtures used by this folder's tests
    app,
    auth_service,
    http,
    new_address,
    new_caller,
    one_time_password,
    pipeline,
    sign_in,
)

_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf_token(page: TestResponse) -> str:
    """The CSRF token of the first form on the page."""
    found = _CSRF.search(page.get_data(as_text=True))
    assert found, "no CSRF token on the page"
    return found.group(1)


def post_form(client: FlaskClient, page_url: str, action: str | None = None, **fields: Any) -> TestResponse:
    """Opens ``page_url`` and submits its form (to ``action``, default the same address) with ``fields``, as a
    browser does: with the page's CSRF token."""
    page = client.get(page_url)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(action or page_url, data={"csrf_token": csrf_token(page), **fields})


@dataclass(frozen=True)
class Officer:
    client: FlaskClient
    email: str

    def text(self, url: str) -> str:
        response = self.client.get(url)
        assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:2000])
        return response.get_data(as_text=True)


@pytest.fixture
def web_sign_in(app: Flask, amqp_channel: Any) -> Callable[..., Officer]:  # noqa: F811 - the imported fixture
    """Signs a new officer in through the sign-in pages (needs the auth service); the password is read from the
    priority email queue, where auth puts the email (sender-email is not running)."""

    def make(email: str | None = None) -> Officer:
        email = email or new_address()
        browser = app.test_client()
        asked = post_form(browser, "/sign-in", email=email, next="/campaigns")
        assert asked.status_code == 303, asked.get_data(as_text=True)
        password_page = asked.headers["Location"]
        signed_in = post_form(browser, password_page, "/sign-in/password", email=email, next="/campaigns",
                              password=one_time_password(amqp_channel, email))
        assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/campaigns", \
            signed_in.get_data(as_text=True)
        return Officer(browser, email)

    return make


def user_id_of(officer: Officer) -> int:
    """The signed-in officer's user id (the API's userinfo, with the session cookie the pages use)."""
    found = officer.client.get("/v1/auth/userinfo")
    assert found.status_code == 200, found.get_data(as_text=True)
    return int(found.json["id"])


def audit_actions(database: Any, user_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(action, target id, details) of the user's audit events, oldest first."""
    from sqlalchemy import select

    from postman_auth.models import AuditEvent

    with database.session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.user_id == user_id).order_by(AuditEvent.id))
        return [(event.action, event.target_id or "", event.details or {}) for event in events]

"""End to end: an officer signs in with a one-time password that travels through the real email pipeline (auth ->
email.priority -> sender-email -> the outbox folder), manages API keys from the session, and signs out."""

from __future__ import annotations

import email
import re
import time
from pathlib import Path

import pytest
import requests

from tests.support.processes import start_system, stop_system

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system(stores, tmp_path_factory: pytest.TempPathFactory):
    """One system for the module: each test signs in (or is refused) as addresses of its own, and counts only the
    password emails that reached the outbox while it ran."""
    running = start_system(stores, tmp_path_factory.mktemp("sign-in"), EMAIL_TRANSPORT="outbox")
    yield running
    stop_system(running)


def read_password(outbox: Path, address: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in outbox.glob("otp-*.eml"):
            message = email.message_from_bytes(path.read_bytes())
            if message["To"] == address:
                body = message.get_payload(decode=True).decode()
                return re.search(r"\b([A-Z0-9]{6})\b", re.sub("<[^>]+>", " ", body)).group(1)
        time.sleep(0.05)
    raise AssertionError(f"no one-time password email for {address} in {outbox}")


def test_an_officer_signs_in_with_an_emailed_password_and_manages_keys(system):
    api = f"{system.gateway_url}/v1"
    browser = requests.Session()
    asked = browser.post(f"{api}/auth/otp", json={"email": "Officer@Tech.gov.sg"})
    assert asked.status_code == 200, asked.text
    password = read_password(Path(system.env["OUTBOX_DIR"]), "officer@tech.gov.sg")

    wrong = browser.post(f"{api}/auth/login", json={"email": "officer@tech.gov.sg", "otp": "AAAAAA"})
    assert wrong.status_code == 401
    login = browser.post(f"{api}/auth/login", json={"email": "officer@tech.gov.sg", "otp": password})
    assert login.status_code == 200, login.text
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert browser.get(f"{api}/auth/userinfo").json()["email"] == "officer@tech.gov.sg"

    created = browser.post(f"{api}/api-key", json={"label": "ci"})
    assert created.status_code == 201
    key = created.json()["api_key"]
    listed = browser.get(f"{api}/api-key").json()
    assert [k["last_five"] for k in listed] == [key[-5:]] and key not in str(listed)
    with_key = {"Authorization": f"Bearer {key}"}
    assert requests.get(f"{api}/campaigns", headers=with_key).status_code == 200
    assert requests.post(f"{api}/api-key", json={"label": "x"}, headers=with_key).status_code == 403

    assert browser.delete(f"{api}/api-key/{created.json()['id']}").status_code == 200
    assert requests.get(f"{api}/campaigns", headers=with_key).status_code == 401

    assert browser.get(f"{api}/auth/logout").status_code == 200
    replayed = requests.get(f"{api}/auth/userinfo", headers={"Cookie": cookie.split(";")[0]})
    assert replayed.status_code == 401

    again = browser.post(f"{api}/auth/login", json={"email": "officer@tech.gov.sg", "otp": password})
    assert again.status_code == 401, "a one-time password works once"


def test_an_address_outside_the_allowlist_gets_no_password(system):
    api = f"{system.gateway_url}/v1"
    outbox = Path(system.env["OUTBOX_DIR"])
    earlier = set(outbox.glob("otp-*.eml"))  # the module's other tests' passwords (each waited for its own)
    for address in ("someone@gov.sg.evil.com", "someone@evil-gov.sg", "someone@tech.gоv.sg"):
        answer = requests.post(f"{api}/auth/otp", json={"email": address})
        assert answer.status_code in (400, 403), (address, answer.status_code)
    # A control sent after them on the same priority queue: once it has arrived, anything refused would have too.
    assert requests.post(f"{api}/auth/otp", json={"email": "control@tech.gov.sg"}).status_code == 200
    read_password(outbox, "control@tech.gov.sg")
    assert len(set(outbox.glob("otp-*.eml")) - earlier) == 1

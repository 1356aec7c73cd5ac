"""Gateway fixtures: the Flask app on the test settings, API keys made through the auth service's own code, users
signed in through the gateway with a one-time password read from the priority email queue, and helpers that drive
the API as the Postman client would."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from postman_auth import api_keys
from postman_gateway.app import create_app
from postman_shared.broker.topology import EMAIL_PRIORITY
from postman_shared.db import Database
from postman_shared.settings import Settings
from tests.fakes.ses import FakeSes
from tests.fakes.sns import FakeSns
from tests.support.inprocess import running

PIPELINE = ("auth", "campaign", "renderer", "stats")


@dataclass(frozen=True)
class Caller:
    user_id: int
    key: str
    email: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass(frozen=True)
class Browser:
    """A user signed in with a one-time password: ``client`` holds the session cookie, as a browser would."""

    client: FlaskClient
    email: str
    user_id: int

    @property
    def session_token(self) -> str:
        cookie = self.client.get_cookie("postman_session")
        assert cookie is not None, "not signed in"
        return cookie.value


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings)


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def new_caller(database: Database) -> Callable[[], Caller]:
    """Makes a new user with an API key, the way `postmanctl create-api-key` does."""

    def make() -> Caller:
        with database.unit_of_work() as session:
            user = api_keys.get_or_create_user(session, f"officer-{secrets.token_hex(4)}@agency.gov.sg")
            key = api_keys.create_api_key(session, user, label="test")
            return Caller(user.id, key, user.email)

    return make


@pytest.fixture
def caller(new_caller: Callable[[], Caller]) -> Caller:
    """A user with an API key, new for each test."""
    return new_caller()


@pytest.fixture
def auth_service(settings: Settings) -> Iterator[None]:
    with running(settings, "auth"):
        yield


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[None]:
    """auth, campaign, renderer and stats, started in-process on the test stores."""
    with running(settings, *PIPELINE):
        yield


@pytest.fixture(scope="module")
def module_auth_service(module_settings: Settings) -> Iterator[Settings]:
    """``auth_service`` started once for a module whose tests share ``module_settings`` (its ``settings`` fixture
    returns them, its ``auth_service`` uses this): yields those settings."""
    with running(module_settings, "auth"):
        yield module_settings


@pytest.fixture(scope="module")
def module_pipeline(module_settings: Settings) -> Iterator[Settings]:
    """``pipeline`` started once for a module whose tests share ``module_settings``: yields those settings."""
    with running(module_settings, *PIPELINE):
        yield module_settings


def content_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def local_path(url: str) -> str:
    """The path and query of a presigned URL, for the test client (which has no host)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def poll(fetch: Callable[[], Any], done: Callable[[Any], bool], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")
        time.sleep(0.05)


def upload_file(http: FlaskClient, caller: Caller, campaign_id: int, path: Path,
                channel: str = "email") -> dict[str, Any]:
    """Uploads a recipient file as the client does (start, presigned PUT, complete) and waits for processing."""
    data = path.read_bytes()
    md5 = content_md5(data)
    base = f"/v1/campaign/{campaign_id}/{channel}"
    start = http.get(f"{base}/upload/start", query_string={"mime_type": "text/csv", "md5": md5},
                     headers=caller.headers)
    assert start.status_code == 200, start.json
    put = http.put(local_path(start.json["presigned_url"]), data=data,
                   headers={"Content-MD5": md5, "Content-Type": "text/csv"})
    assert put.status_code == 200, put.get_data(as_text=True)
    complete = http.post(f"{base}/upload/complete", headers=caller.headers,
                         json={"transaction_id": start.json["transaction_id"], "filename": path.name,
                               "etag": put.headers["ETag"]})
    assert complete.status_code == 202, complete.json
    assert complete.json == {"id": str(campaign_id)}
    status = poll(lambda: http.get(f"{base}/upload/status", headers=caller.headers),
                  lambda r: r.status_code != 200 or not r.json["is_csv_processing"], f"{path.name} to be processed")
    assert status.status_code == 200, status.json
    return status.json  # type: ignore[no-any-return]


def new_address() -> str:
    return f"officer-{secrets.token_hex(4)}@agency.gov.sg"


def one_time_password(amqp_channel: Any, email: str) -> str:
    """The password of the latest one-time password email to ``email`` on the priority queue (nothing consumes
    that queue in these tests: sender-email is not running)."""

    def next_email() -> Any:
        method, _properties, body = amqp_channel.basic_get(EMAIL_PRIORITY, auto_ack=True)
        return json.loads(body) if method is not None else None

    message = poll(next_email, lambda m: m is not None and m["to"] == email.lower(), f"the email to {email}")
    found = re.search(r">([^<>\s]{6})</p>", message["body"])
    assert found, message["body"]
    return found.group(1)


@pytest.fixture
def sign_in(app: Flask, amqp_channel: Any) -> Callable[..., Browser]:
    """Signs a user in through the gateway (needs the auth service): OTP request, the emailed password, login."""

    def make(email: str | None = None) -> Browser:
        email = email or new_address()
        browser = app.test_client()
        requested = browser.post("/v1/auth/otp", json={"email": email})
        assert requested.status_code == 200, requested.json
        otp = one_time_password(amqp_channel, email)
        login = browser.post("/v1/auth/login", json={"email": email, "otp": otp})
        assert login.status_code == 200, login.json
        return Browser(browser, email, login.json["id"])

    return make


@pytest.fixture
def ses(monkeypatch, tmp_path) -> Iterator[FakeSes]:
    """A local SES (boto3 talks to it) with fake AWS credentials, and no real AWS configuration read from the
    machine."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with FakeSes() as server:
        yield server


@pytest.fixture
def sns() -> Iterator[FakeSns]:
    """A local SNS that signs notifications like Amazon's, with the certificate it serves."""
    with FakeSns() as fake:
        yield fake

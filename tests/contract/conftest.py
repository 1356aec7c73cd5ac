"""The contract suite's system: every service in-process on the test stores (sender-email writing to the outbox,
sender-sms and sender-telegram talking to the local Twilio and Telegram fakes through their real client libraries),
the gateway's Flask app, and a client that checks every answer against the OpenAPI document the gateway serves.

Started once per test module (the services take a few seconds to start), so each module works with users and
campaigns of its own.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pytest
from flask import Flask

from postman_auth import api_keys
from postman_gateway.app import create_app
from postman_shared.credentials import new_master_key
from postman_shared.db import Database
from postman_shared.settings import Settings
from tests.contract.conformance import ContractClient, Document
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio
from tests.integration.sender_telegram.conftest import new_bot_token
from tests.support import service_identity
from tests.support.inprocess import running
from tests.support.stores import Stores, free_port

SERVICES = ("auth", "campaign", "renderer", "stats", "sender-email", "sender-sms", "sender-telegram")
TWILIO_KEY, TWILIO_SECRET = "SK" + secrets.token_hex(16), "twilio-secret-" + secrets.token_hex(8)
TWILIO_ACCOUNT = {"twilio_account_sid": "AC" + secrets.token_hex(16), "twilio_api_key": TWILIO_KEY,
                  "twilio_api_secret": TWILIO_SECRET, "twilio_messaging_service_sid": "MG" + secrets.token_hex(16)}
BOT_TOKEN = new_bot_token()
# The contract's own routes: every documented operation but this platform's extras.
PLATFORM_PREFIXES = ("/v1/ping", "/v1/openapi.json", "/v1/auth/", "/v1/api-key", "/v1/settings/", "/uploads/")


@dataclass(frozen=True)
class Caller:
    user_id: int
    email: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(api_key=TWILIO_KEY, api_secret=TWILIO_SECRET, invalid={"+447911123456"}) as fake:
        yield fake


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(tokens={BOT_TOKEN}) as fake:
        yield fake


@pytest.fixture(scope="module")
def contract_settings(stores: Stores, tmp_path_factory: pytest.TempPathFactory, twilio: FakeTwilio,
                      telegram: FakeTelegram) -> Settings:
    folder = tmp_path_factory.mktemp("contract")
    return replace(
        Settings.from_env({}),
        database_url=stores.database_url, amqp_url=stores.amqp_url,
        upload_dir=folder / "uploads", outbox_dir=folder / "outbox", email_transport="outbox",
        gateway_port=free_port(), public_url="http://127.0.0.1:8080",
        **{name: f"127.0.0.1:{free_port()}" for name in (
            "auth_addr", "campaign_addr", "renderer_addr", "stats_addr", "sms_sender_addr", "telegram_sender_addr",
            "email_sender_addr")},
        metrics_port=0, log_format="console",  # INFO: loggers cache their level, later tests read the logs
        health_port=0, grpc_tls_dir=service_identity.certificate_dir(),  # mutual TLS, as make run
        twilio_api_base=twilio.base_url, telegram_api_base=telegram.base_url, credentials_key=new_master_key(),
        callback_signing_key=secrets.token_hex(32),
        # the suite's requests come from one user in quick succession: the API limit is not what it tests
        api_rate_limit=10_000, send_rate_limit_default=1_000,
    )


@pytest.fixture(scope="module")
def system(contract_settings: Settings) -> Iterator[None]:
    with running(contract_settings, *SERVICES):
        yield


@pytest.fixture(scope="module")
def contract_app(contract_settings: Settings, system: None) -> Iterator[Flask]:
    from postman_gateway.core.backends import EXTENSION

    app = create_app(contract_settings)
    yield app
    app.extensions[EXTENSION].publisher.close()


@pytest.fixture(scope="session")
def driven() -> set[tuple[str, str]]:
    """Every (method, path template) a contract test drove, over the session."""
    return set()


@pytest.fixture(scope="module")
def document(contract_app: Flask) -> Document:
    return Document(contract_app.test_client().get("/v1/openapi.json").json)


@pytest.fixture(scope="module")
def api(contract_app: Flask, document: Document, driven: set[tuple[str, str]]) -> ContractClient:
    return ContractClient(contract_app.test_client(), document, driven)


@pytest.fixture(scope="module")
def module_database(stores: Stores) -> Iterator[Database]:
    db = Database(stores.database_url, pool_size=2)
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def new_caller(module_database: Database) -> Callable[[], Caller]:
    """A new user with an API key, the way `postmanctl create-api-key` makes one."""

    def make() -> Caller:
        email = f"officer-{secrets.token_hex(4)}@agency.gov.sg"
        with module_database.unit_of_work() as session:
            user = api_keys.get_or_create_user(session, email)
            return Caller(user.id, email, api_keys.create_api_key(session, user, label="contract"))

    return make


@pytest.fixture(scope="module")
def caller(new_caller: Callable[[], Caller]) -> Caller:
    return new_caller()


def contract_operations(document: Document) -> set[tuple[str, str]]:
    """The contract's operations: not the platform's own routes, nor its extensions (``x-postman-extension``: saved
    templates)."""
    return {(method, path) for method, path in document.operations() if not path.startswith(PLATFORM_PREFIXES)
            and "x-postman-extension" not in document.spec["paths"][path][method.lower()]}


COVERAGE_TEST = "test_every_operation_of_the_contract_was_driven"


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The coverage test runs after every other contract test of the session, whatever the order of the files."""
    last = [item for item in items if item.name == COVERAGE_TEST]
    items[:] = [item for item in items if item.name != COVERAGE_TEST] + last

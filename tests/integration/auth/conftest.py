"""The auth service in-process, called over gRPC, and one-time passwords read from the priority email queue."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from postman.v1 import auth_pb2, auth_pb2_grpc
from postman_shared.broker.topology import EMAIL_PRIORITY
from postman_shared.grpc import client
from postman_shared.messages import PriorityEmail
from postman_shared.settings import Settings
from tests.support import service_identity
from tests.support.inprocess import running

_PASSWORD_IN_BODY = re.compile(r">([ACDEFGHJKMNPQRTUVWXY34679]{6})</p>")
IP = "203.0.113.7"


@dataclass
class Auth:
    """A running auth service and what its tests need around it."""

    stub: auth_pb2_grpc.AuthServiceStub
    settings: Settings
    channel: object  # a pika channel on the test vhost

    def call(self, method: str, request: object) -> object:
        return client.call(getattr(self.stub, method), request)

    def priority_email(self, to: str, timeout: float = 10.0) -> PriorityEmail:
        """The next priority email to this address (others are dropped), waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            method, _properties, body = self.channel.basic_get(EMAIL_PRIORITY, auto_ack=True)
            if method is None:
                time.sleep(0.05)
                continue
            email = PriorityEmail.from_dict(json.loads(body))
            if email.to == to:
                return email
        raise AssertionError(f"no priority email to {to} within {timeout}s")

    def request_otp(self, email: str, ip: str = IP) -> str:
        """Asks for a one-time password and returns it, read from the email."""
        self.call("RequestOtp", auth_pb2.RequestOtpRequest(email=email, ip=ip))
        match = _PASSWORD_IN_BODY.search(self.priority_email(email.strip().lower()).body)
        assert match, "the email does not show the password"
        return match.group(1)

    def login(self, email: str, otp: str, ip: str = IP) -> auth_pb2.LoginResponse:
        return self.call("Login", auth_pb2.LoginRequest(email=email, otp=otp, ip=ip, user_agent="pytest"))

    def sign_in(self, email: str | None = None) -> auth_pb2.LoginResponse:
        address = email or new_address()
        return self.login(address, self.request_otp(address))


def new_address() -> str:
    return f"officer-{secrets.token_hex(4)}@tech.gov.sg"


@pytest.fixture
def auth_settings(settings: Settings) -> Settings:
    return settings


@pytest.fixture
def auth(auth_settings: Settings, amqp_channel) -> Iterator[Auth]:
    """The auth service running in-process with ``auth_settings`` (override that fixture to change settings)."""
    with running(auth_settings, "auth"):
        yield Auth(service_identity.stub(auth_settings.auth_addr, auth_pb2_grpc.AuthServiceStub), auth_settings,
                   amqp_channel)

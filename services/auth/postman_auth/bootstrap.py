"""Composition root of the auth service."""

from __future__ import annotations

from datetime import timedelta

from postman.v1 import auth_pb2_grpc
from postman_auth.grpc_api import AuthServicer
from postman_auth.sign_in import SignIn
from postman_shared.runtime import ServiceRuntime
from postman_shared.settings import Settings


def build(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime("auth", settings)
    # Parsing DOMAIN_ALLOWLIST here makes a bad setting stop the service at start, with the entry named.
    sign_in = SignIn(runtime.database, runtime.publisher, settings)
    servicer = AuthServicer(runtime.database, sign_in, timedelta(days=settings.api_key_ttl_days))
    runtime.serve_grpc(settings.auth_addr, [(auth_pb2_grpc.add_AuthServiceServicer_to_server, servicer)],
                       ["postman.v1.AuthService"])
    return runtime

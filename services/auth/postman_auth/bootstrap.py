"""Composition root of the auth service."""

from __future__ import annotations

from postman.v1 import auth_pb2_grpc
from postman_auth.grpc_api import AuthServicer
from postman_shared.runtime import ServiceRuntime
from postman_shared.settings import Settings


def build(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime("auth", settings)
    runtime.serve_grpc(
        settings.auth_addr,
        [(auth_pb2_grpc.add_AuthServiceServicer_to_server, AuthServicer(runtime.database))],
        ["postman.v1.AuthService"],
    )
    return runtime

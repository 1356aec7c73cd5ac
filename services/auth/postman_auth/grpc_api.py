"""AuthService over gRPC: a thin layer over api_keys."""

from __future__ import annotations

from typing import Any

from postman.v1 import auth_pb2, auth_pb2_grpc
from postman_auth import api_keys
from postman_shared.db import Database
from postman_shared.grpc.errors import ServiceError


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, database: Database) -> None:
        self._database = database

    def Authenticate(self, request: auth_pb2.AuthenticateRequest, context: Any) -> auth_pb2.AuthenticateResponse:
        with self._database.unit_of_work() as session:
            user = api_keys.authenticate(session, request.api_key)
        if user is None:
            raise ServiceError("unathenticated", "Invalid API key")
        return auth_pb2.AuthenticateResponse(user_id=user.user_id, email=user.email, api_key_id=user.api_key_id)

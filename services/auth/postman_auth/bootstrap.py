"""Composition root of the auth service: the AuthService API and the consumer of ``owner.notices`` (emails to
campaign owners, addressed here because auth knows their addresses)."""

from __future__ import annotations

from datetime import timedelta

from postman.v1 import auth_pb2_grpc
from postman_auth.grpc_api import AuthServicer
from postman_auth.owner_notices import NoticeHandler
from postman_auth.sign_in import SignIn
from postman_shared.broker import BatchConsumer
from postman_shared.broker.topology import OWNER_NOTICES
from postman_shared.runtime import ServiceRuntime
from postman_shared.settings import Settings


def build(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime("auth", settings)
    # Parsing DOMAIN_ALLOWLIST here makes a bad setting stop the service at start, with the entry named.
    sign_in = SignIn(runtime.database, runtime.publisher, settings)
    servicer = AuthServicer(runtime.database, sign_in, timedelta(days=settings.api_key_ttl_days))
    runtime.serve_grpc(settings.auth_addr, [(auth_pb2_grpc.add_AuthServiceServicer_to_server, servicer)],
                       ["postman.v1.AuthService"])
    runtime.add_consumer(BatchConsumer(
        settings.amqp_url, OWNER_NOTICES, NoticeHandler(runtime.database, runtime.publisher, settings.email_from),
        batch_size=20, prefetch=40, delivery_limit=settings.queue_delivery_limit,
    ))
    return runtime

"""A stopping service's calls to other services end a few seconds into its stop (postman_shared.grpc.client).

Calls wait for their server to be ready, up to their deadline: right for a service restarting under a running one,
wrong when the caller itself is stopping (a release restarts every pod at once) and would hold its stop for the whole
deadline. Calls to a live server still finish during the grace; waiting ones are cancelled after it, later ones are
refused at once, and a runtime started again calls normally.
"""

from __future__ import annotations

import threading
import time

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError
from postman_shared.grpc.server import GrpcServer
from tests.support import service_identity
from tests.support.stores import free_port

CALLER = "sender-sms"


@pytest.fixture
def caller():
    identity = service_identity.identity(CALLER)
    client.allow_calls(identity)
    with client.acting_as(identity):
        yield identity
    client.allow_calls(identity)


@pytest.fixture
def live_server():
    server = GrpcServer(f"127.0.0.1:{free_port()}", ["postman.v1.CampaignService"],
                        service_identity.identity("campaign"))
    server.start()
    yield server
    server.stop(grace=0)


def check(address: str, timeout: float = 30.0) -> int:
    stub = client.stub(address, health_pb2_grpc.HealthStub)
    return int(client.call(stub.Check, health_pb2.HealthCheckRequest(service=""), timeout=timeout).status)


def test_a_call_waiting_for_a_gone_service_is_cancelled_after_the_grace(caller):
    nowhere = f"127.0.0.1:{free_port()}"
    outcome: dict[str, object] = {}

    def waiting_call() -> None:
        with client.acting_as(caller):
            started = time.monotonic()
            try:
                check(nowhere, timeout=30.0)
            except ServiceError as exc:
                outcome["error"] = exc
            outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=waiting_call, daemon=True)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive(), "the call waits for its server to be ready"
    client.begin_stopping(caller, grace=0.5)
    thread.join(timeout=10)
    assert not thread.is_alive(), "the call still waited for its 30 s deadline after the stop"
    error = outcome["error"]
    assert isinstance(error, ServiceError) and error.code == "service_unavailable"
    assert "stopping" in error.message


def test_calls_finish_during_the_grace_are_refused_after_it_and_allowed_again_on_restart(caller, live_server):
    address = f"127.0.0.1:{live_server.port}"
    client.begin_stopping(caller, grace=0.5)
    assert check(address) == health_pb2.HealthCheckResponse.SERVING  # a live server's call finishes
    time.sleep(0.8)
    with pytest.raises(ServiceError) as refused:
        check(address)
    assert refused.value.code == "service_unavailable"
    client.allow_calls(caller)
    assert check(address) == health_pb2.HealthCheckResponse.SERVING


def test_another_service_in_the_same_process_is_not_cut_off(caller, live_server):
    address = f"127.0.0.1:{live_server.port}"
    client.begin_stopping(caller, grace=0.0)
    time.sleep(0.2)
    with client.acting_as(service_identity.identity("renderer")):
        assert check(address) == health_pb2.HealthCheckResponse.SERVING

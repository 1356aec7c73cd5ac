"""The inside trust boundary: services prove who they are with certificates, and each method answers only the
services that really call it (lib/postman_shared/grpc/identity.py, authorization.py).

Without this, any pod of the cluster (or an SSRF in one) could ask auth for an API key of any user, stream any
campaign's recipients from campaign, or send mail as anyone through sender-email."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from postman.v1 import auth_pb2, auth_pb2_grpc, campaign_pb2, campaign_pb2_grpc
from postman_ctl.cli import main as postmanctl
from postman_shared import metrics
from postman_shared.grpc import client
from postman_shared.grpc.certificates import ensure_certificates
from postman_shared.grpc.identity import ServiceIdentity, load_identity
from postman_shared.grpc.server import GrpcServer
from postman_shared.runtime import ServiceRuntime
from postman_shared.settings import Settings, SettingsError
from tests.support import service_identity
from tests.support.inprocess import running
from tests.support.stores import free_port

TIMEOUT = 5.0


class _Auth(auth_pb2_grpc.AuthServiceServicer):
    def CreateApiKey(self, request, context):
        return auth_pb2.CreatedApiKey(api_key=f"key-of-{request.user_id}")


class _Campaign(campaign_pb2_grpc.CampaignServiceServicer):
    def StreamRecipients(self, request, context):
        yield campaign_pb2.RecipientBatch()


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    """A real gRPC server of "auth" and of "campaign", each with its certificate and the method table."""
    addresses, started = {}, []
    for name, register, servicer in (("auth", auth_pb2_grpc.add_AuthServiceServicer_to_server, _Auth()),
                                     ("campaign", campaign_pb2_grpc.add_CampaignServiceServicer_to_server,
                                      _Campaign())):
        address = f"127.0.0.1:{free_port()}"
        server = GrpcServer(address, [], service_identity.identity(name))
        server.add(register, servicer)
        server.start()
        started.append(server)
        addresses[name] = address
    yield addresses
    for server in started:
        server.stop(grace=0)


def _create_key(address: str, credentials: grpc.ChannelCredentials | None) -> auth_pb2.CreatedApiKey:
    with (grpc.secure_channel(address, credentials) if credentials else grpc.insecure_channel(address)) as channel:
        return auth_pb2_grpc.AuthServiceStub(channel).CreateApiKey(
            auth_pb2.CreateApiKeyRequest(user_id=7, label="x"), timeout=TIMEOUT)


def _as(name: str) -> grpc.ChannelCredentials:
    return service_identity.identity(name).channel_credentials()


def test_the_gateways_certificate_may_create_an_api_key(servers):
    assert _create_key(servers["auth"], _as("gateway")).api_key == "key-of-7"


@pytest.mark.parametrize("caller", ["renderer", "sender-email", "campaign", "postmanctl"])
def test_another_services_certificate_may_not_create_an_api_key(servers, caller, capsys):
    labels = {"method": "/postman.v1.AuthService/CreateApiKey", "caller": caller}
    before = REGISTRY.get_sample_value("postman_grpc_refused_total", labels) or 0
    with pytest.raises(grpc.RpcError) as refused:
        _create_key(servers["auth"], _as(caller))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert f"{caller} may not call /postman.v1.AuthService/CreateApiKey" in refused.value.details()
    assert "gRPC call refused" in capsys.readouterr().out  # and the refusal is logged and counted
    assert REGISTRY.get_sample_value("postman_grpc_refused_total", labels) == before + 1


@pytest.mark.parametrize("caller, allowed", [("renderer", True), ("stats", True), ("gateway", False),
                                             ("sender-email", False), ("auth", False)])
def test_a_campaigns_recipients_stream_only_to_the_renderer_and_stats(servers, caller, allowed):
    with grpc.secure_channel(servers["campaign"], _as(caller)) as channel:
        stream = campaign_pb2_grpc.CampaignServiceStub(channel).StreamRecipients(
            campaign_pb2.StreamRecipientsRequest(campaign_id=1), timeout=TIMEOUT)
        if allowed:
            assert len(list(stream)) == 1
        else:
            with pytest.raises(grpc.RpcError) as refused:
                list(stream)
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_caller_without_a_client_certificate_is_not_served(servers):
    ca = (service_identity.certificate_dir() / "gateway" / "ca.crt").read_bytes()
    with pytest.raises(grpc.RpcError) as refused:
        _create_key(servers["auth"], grpc.ssl_channel_credentials(root_certificates=ca))
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_plaintext_caller_is_not_served(servers):
    with pytest.raises(grpc.RpcError) as refused:
        _create_key(servers["auth"], None)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_certificate_of_another_authority_is_not_served(servers, tmp_path):
    ensure_certificates(tmp_path, ["gateway"])  # a gateway certificate, but from an authority of its own
    impostor = load_identity(Settings(grpc_tls_dir=tmp_path), "gateway")
    with pytest.raises(grpc.RpcError) as refused:
        _create_key(servers["auth"], impostor.channel_credentials())
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_the_real_auth_service_refuses_the_renderer_and_serves_the_gateway(settings):
    with running(settings, "auth"):
        for caller, code in (("renderer", grpc.StatusCode.PERMISSION_DENIED), ("gateway", None)):
            with grpc.secure_channel(settings.auth_addr, _as(caller)) as channel:
                request = auth_pb2.ListApiKeysRequest(user_id=1)
                if code is None:
                    auth_pb2_grpc.AuthServiceStub(channel).ListApiKeys(request, timeout=TIMEOUT)
                    continue
                with pytest.raises(grpc.RpcError) as refused:
                    auth_pb2_grpc.AuthServiceStub(channel).ListApiKeys(request, timeout=TIMEOUT)
                assert refused.value.code() == code


def test_plaintext_is_refused_outside_local_development():
    public = Settings(grpc_insecure=True, public_url="https://postman.agency.gov.sg")
    with pytest.raises(SettingsError, match="GRPC_INSECURE=true"):
        load_identity(public, "campaign")


def test_plaintext_in_local_development_says_so_in_the_log(capsys):
    identity = load_identity(Settings(grpc_insecure=True, public_url="http://localhost:8080"), "campaign")
    assert identity.plaintext
    out = capsys.readouterr().out
    assert "gRPC in plaintext" in out and "warning" in out


def test_explicit_plaintext_still_works_in_local_development():
    plaintext = load_identity(Settings(grpc_insecure=True, public_url="http://127.0.0.1:8080"), "auth")
    address = f"127.0.0.1:{free_port()}"
    server = GrpcServer(address, [], plaintext)
    server.add(auth_pb2_grpc.add_AuthServiceServicer_to_server, _Auth())
    server.start()
    try:
        stub = client.stub(address, auth_pb2_grpc.AuthServiceStub, load_identity(
            Settings(grpc_insecure=True, public_url="http://localhost:8080"), "renderer"))
        assert stub.CreateApiKey(auth_pb2.CreateApiKeyRequest(user_id=3), timeout=TIMEOUT).api_key == "key-of-3"
    finally:
        server.stop(grace=0)


def test_a_service_without_its_certificate_does_not_start(tmp_path):
    with pytest.raises(SettingsError, match="postmanctl certs"):
        load_identity(Settings(grpc_tls_dir=tmp_path), "auth")
    with pytest.raises(SettingsError, match="no service certificate"):
        ServiceRuntime("auth", Settings(grpc_tls_dir=tmp_path, public_url="http://localhost:8080"))


def test_postmanctl_certs_makes_every_service_a_certificate_and_keeps_existing_ones(tmp_path, capsys):
    folder = tmp_path / "certs"
    assert postmanctl(["certs", "--dir", str(folder)]) == 0
    names = ("auth", "campaign", "renderer", "stats", "sender-email", "sender-sms", "sender-telegram", "gateway",
             "postmanctl")
    first = {name: (folder / name / "tls.crt").read_bytes() for name in names}
    assert all(load_identity(Settings(grpc_tls_dir=folder), name).cert == first[name] for name in names)
    assert oct(os.stat(folder / "auth" / "tls.key").st_mode & 0o777) == "0o600"
    assert oct(os.stat(folder / "ca" / "ca.key").st_mode & 0o777) == "0o600"
    (folder / "stats" / "tls.crt").unlink()

    assert postmanctl(["certs", "--dir", str(folder)]) == 0

    assert "created the certificate of stats" in capsys.readouterr().err
    for name in names:
        again = (folder / name / "tls.crt").read_bytes()
        assert (again != first[name]) if name == "stats" else (again == first[name])


def test_make_run_uses_mutual_tls_by_default():
    assert Settings.from_env({}).grpc_insecure is False
    assert Settings.from_env({}).grpc_tls_dir == Path("var/certs")


def test_metrics_and_health_bind_to_loopback_by_default(monkeypatch, settings):
    bound = []
    monkeypatch.setattr(metrics, "start_http_server", lambda port, addr: bound.append((addr, port)))
    assert Settings.from_env({}).metrics_bind_host == "127.0.0.1"
    metrics.start_metrics_server("auth", -1)
    assert bound == [("127.0.0.1", 9101)]

    port = free_port()
    runtime = ServiceRuntime("auth", replace(settings, metrics_port=port, health_port=free_port()))
    runtime.serve_grpc(settings.auth_addr, [], [])
    runtime.start()
    try:
        assert bound[-1] == ("127.0.0.1", port)
        assert runtime.grpc is not None and runtime.grpc.health_port
        with grpc.insecure_channel(f"127.0.0.1:{runtime.grpc.health_port}") as channel:  # probes: plaintext health
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        runtime.stop()


def test_an_identity_never_shows_its_key():
    assert "PRIVATE" not in repr(ServiceIdentity("auth", b"ca", b"cert", b"-----BEGIN PRIVATE KEY-----"))

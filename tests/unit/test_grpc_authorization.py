"""The method table of lib/postman_shared/grpc/authorization.py against the protos: every RPC has its callers."""

from __future__ import annotations

import importlib
import pkgutil

from grpc_health.v1 import health_pb2

import postman.v1
from postman_shared.grpc.authorization import ALLOWED_CALLERS, SERVICES, refusal


def declared_methods() -> set[str]:
    """Every RPC of the generated descriptors (protos/postman/v1 and the standard health service)."""
    modules = [importlib.import_module(f"postman.v1.{m.name}") for m in pkgutil.iter_modules(postman.v1.__path__)
               if m.name.endswith("_pb2")]
    found = set()
    for module in [*modules, health_pb2]:
        for service in module.DESCRIPTOR.services_by_name.values():
            found.update(f"/{service.full_name}/{method.name}" for method in service.methods)
    return found


def test_every_rpc_the_protos_declare_has_its_callers_in_the_table_and_nothing_else_is_there():
    declared = declared_methods()
    assert len(declared) > 80
    assert sorted(declared - ALLOWED_CALLERS.keys()) == []  # a new RPC needs its callers here, or nobody may call it
    assert sorted(ALLOWED_CALLERS.keys() - declared) == []


def test_callers_are_services_with_a_certificate_and_no_method_is_open_to_all_but_health():
    for method, callers in ALLOWED_CALLERS.items():
        assert callers and callers <= set(SERVICES), method
        if set(callers) == set(SERVICES):
            assert method.startswith("/grpc.health.v1.Health/"), method


def test_the_methods_of_the_issue_answer_only_their_real_callers():
    assert refusal("/postman.v1.AuthService/CreateApiKey", "gateway") is None
    assert refusal("/postman.v1.AuthService/CreateApiKey", "renderer") == (
        "renderer may not call /postman.v1.AuthService/CreateApiKey")
    assert ALLOWED_CALLERS["/postman.v1.CampaignService/StreamRecipients"] == {"renderer", "stats"}
    assert ALLOWED_CALLERS["/postman.v1.CampaignService/HaltCampaign"] == {"stats"}
    assert ALLOWED_CALLERS["/postman.v1.TransactionalEmailService/SendTransactionalEmail"] == {"gateway"}
    assert refusal("/postman.v1.AuthService/Login", None) == "the caller presented no service certificate"
    assert refusal("/postman.v1.AuthService/NotARealMethod", "gateway") is not None

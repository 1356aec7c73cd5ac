"""deploy/tracing, the component that turns traces on: with it, every service is given the collector's endpoint and
every Postman pod may reach it; without it, tracing stays off and no pod may reach it.

The base's network policies let each pod out only where its code goes, so a component that set the endpoint without
opening the port would export nothing (spans dropped at the network), which is what this test guards.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from postman_shared.settings import Settings
from tests.deploy.manifests import render

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def overlay(directory: Path, base: str, tracing: bool) -> Path:
    directory.mkdir()
    relative = lambda target: os.path.relpath(target, directory)  # noqa: E731 - kustomize refuses absolute roots
    components = f"components:\n  - {relative(DEPLOY / 'tracing')}\n" if tracing else ""
    (directory / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {relative(DEPLOY / base)}\n{components}")
    return directory


def config_of(documents: list[dict[str, Any]]) -> dict[str, str]:
    return next(doc["data"] for doc in documents
                if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "postman-config")


def egress_to(documents: list[dict[str, Any]], namespace: str, port: int) -> list[dict[str, Any]]:
    """The policies that let pods of namespace `postman` out to TCP `port` of pods in `namespace`."""
    found = []
    for doc in documents:
        if doc["kind"] != "NetworkPolicy" or "Egress" not in doc["spec"].get("policyTypes", []):
            continue
        for rule in doc["spec"].get("egress", []):
            ports = {p.get("port") for p in rule.get("ports", []) if p.get("protocol", "TCP") == "TCP"}
            namespaces = {peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                          for peer in rule.get("to", [])}
            if port in ports and namespace in namespaces:
                found.append(doc)
    return found


@pytest.mark.parametrize("base", ["k8s", "keda", "with-stores"])
def test_the_component_sets_an_endpoint_every_pod_may_reach(tmp_path: Path, base: str) -> None:
    documents = render(overlay(tmp_path / "overlay", base, tracing=True))
    endpoint = config_of(documents)["OTEL_EXPORTER_OTLP_ENDPOINT"]
    settings = Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
    url = urlsplit(settings.otel_exporter_otlp_endpoint)
    namespace = (url.hostname or "").split(".")[1]  # <service>.<namespace>[.svc...]
    policies = egress_to(documents, namespace, url.port or (443 if url.scheme == "https" else 80))
    assert policies, f"no network policy lets Postman's pods reach {endpoint}"
    # An empty pod selector: every workload of the namespace, including ones added later.
    assert any(policy["spec"]["podSelector"] == {} and policy["metadata"]["namespace"] == "postman"
               for policy in policies)


def test_without_the_component_tracing_is_off_and_the_collector_is_closed(tmp_path: Path) -> None:
    documents = render(overlay(tmp_path / "overlay", "k8s", tracing=False))
    assert config_of(documents)["OTEL_EXPORTER_OTLP_ENDPOINT"] == ""
    assert not egress_to(documents, "monitoring", 4318)

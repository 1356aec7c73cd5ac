"""Every kustomize variant and standalone manifest under deploy/ is valid against Kubernetes' schemas (the oldest
version we support and the newest kubernetes-validate ships) and the vendored CRDs, strictly: an unknown or
misspelled field fails here instead of at `kubectl apply` time. See tests/deploy/manifests.py for what is checked."""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tests.deploy import manifests
from tests.deploy.manifests import DEPLOY, ROOT, describe, json_path, kubernetes_versions, validate

VERSIONS = kubernetes_versions()


@cache
def rendered(variant: Path) -> tuple[dict[str, Any], ...]:
    return tuple(manifests.render(variant))


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def problems(documents: Any, version: str) -> list[str]:
    return [f"{describe(document)}: {error}" for document in documents for error in validate(document, version)]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("variant", manifests.kustomize_variants(), ids=relative)
def test_every_rendered_object_of_the_variant_is_valid(variant: Path, version: str) -> None:
    documents = rendered(variant)
    assert documents, f"{relative(variant)} renders nothing"
    found = problems(documents, version)
    assert not found, f"{relative(variant)} against Kubernetes {version}:\n" + "\n".join(found)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("manifest", manifests.standalone_manifests(), ids=relative)
def test_every_standalone_manifest_is_valid(manifest: Path, version: str) -> None:
    found = problems(manifests.load_manifest(manifest), version)
    assert not found, f"{relative(manifest)} against Kubernetes {version}:\n" + "\n".join(found)


def test_discovery_finds_the_base_its_overlays_and_the_examples_but_not_the_prometheus_rule_file() -> None:
    variants = {relative(path) for path in manifests.kustomize_variants()}
    assert {"deploy/k8s", "deploy/keda", "deploy/k8s/monitoring"} <= variants
    standalone = {relative(path) for path in manifests.standalone_manifests()}
    assert {"deploy/k8s/certificates.example.yaml", "deploy/k8s/secret.example.yaml"} <= standalone
    # rendered through the base (so not standalone), and not Kubernetes objects at all
    assert "deploy/k8s/gateway.yaml" not in standalone and "deploy/prometheus/rules.yaml" not in standalone


def test_the_oldest_version_checked_is_the_one_the_sre_guide_promises() -> None:
    claim = re.search(r"Kubernetes (\d+\.\d+) or later", (DEPLOY / "k8s" / "README.md").read_text())
    assert claim, "deploy/k8s/README.md no longer says which Kubernetes it needs"
    assert claim[1] == manifests.OLDEST_SUPPORTED
    assert VERSIONS[0] != VERSIONS[1], "validate against more than one Kubernetes version"


# Strictness: each of these would be accepted by a lenient validator (or dropped by a client-side apply).

def base_object(kind: str) -> dict[str, Any]:
    variant = DEPLOY / "keda" if kind in ("ScaledObject", "TriggerAuthentication") else DEPLOY / "k8s"
    return copy.deepcopy(next(doc for doc in rendered(variant) if doc["kind"] == kind))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_misspelled_deployment_field_fails_naming_where(version: str) -> None:
    deployment = base_object("Deployment")
    assert validate(deployment, version) == []
    deployment["spec"]["replica"] = deployment["spec"].pop("replicas")
    [error] = validate(deployment, version)
    assert error.path == "$.spec" and "'replica' was unexpected" in error.message


def test_an_unknown_field_deep_in_a_pod_template_fails() -> None:
    deployment = base_object("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    [error] = validate(deployment, VERSIONS[-1])
    assert error.path == "$.spec.template.spec.containers[0]" and "imagePullPolcy" in error.message


def test_a_wrong_type_fails() -> None:
    deployment = base_object("Deployment")
    deployment["spec"]["replicas"] = "two"
    [error] = validate(deployment, VERSIONS[-1])
    assert error.path == "$.spec.replicas" and "'two' is not of type 'integer'" in error.message


def test_an_unknown_scaled_object_field_fails() -> None:
    scaled = base_object("ScaledObject")
    assert validate(scaled, VERSIONS[-1]) == []
    scaled["spec"]["minReplicas"] = 2
    [error] = validate(scaled, VERSIONS[-1])
    assert error.path == "$.spec" and "'minReplicas' was unexpected" in error.message


def test_a_wrong_type_in_a_custom_resource_fails() -> None:
    scaled = base_object("ScaledObject")
    scaled["spec"]["maxReplicaCount"] = "6"
    assert [str(error) for error in validate(scaled, VERSIONS[-1])] == ["$.spec.maxReplicaCount: '6' is not of type "
                                                                        "'integer'"]


def test_a_misspelled_field_in_a_standalone_example_fails() -> None:
    certificates = manifests.load_manifest(DEPLOY / "k8s" / "certificates.example.yaml")
    certificate = copy.deepcopy(next(doc for doc in certificates if doc["kind"] == "Certificate"))
    assert validate(certificate, VERSIONS[0]) == []
    certificate["spec"]["dnsName"] = certificate["spec"].pop("dnsNames")
    [error] = validate(certificate, VERSIONS[0])
    assert error.path == "$.spec" and "'dnsName' was unexpected" in error.message


def test_a_custom_resource_s_metadata_is_held_to_object_meta() -> None:
    scaled = base_object("ScaledObject")
    scaled["metadata"]["label"] = {"a": "b"}
    [error] = validate(scaled, VERSIONS[-1])
    assert error.path == "$.metadata" and "'label' was unexpected" in error.message


def test_a_kind_without_a_schema_fails_saying_how_to_add_it() -> None:
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    [error] = validate(unknown, VERSIONS[-1])
    assert "no schema for example.com/v1 Widget: add its CRD to tests/deploy/crds" in error.message
    removed = {"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "i"}}
    [error] = validate(removed, VERSIONS[-1])
    assert "no schema for extensions/v1beta1 Ingress" in error.message


@pytest.mark.parametrize("version", VERSIONS)
def test_the_built_in_validation_agrees_with_kubernetes_validate(version: str) -> None:
    """validate() loads kubernetes-validate's schemas once instead of on every call: it must judge alike."""
    for document in rendered(DEPLOY / "k8s"):
        kubernetes_validate.validate(document, version, strict=True)  # raises on an invalid document
    broken = base_object("Deployment")
    broken["spec"]["template"]["spec"]["containers"][0]["ports"] = "8080"
    with pytest.raises(kubernetes_validate.ValidationError) as raised:
        kubernetes_validate.validate(broken, version, strict=True)
    assert (json_path(raised.value.absolute_path), raised.value.message) in {
        (error.path, error.message) for error in validate(broken, version)}


def test_strict_closes_declared_objects_but_keeps_open_what_the_crd_leaves_open() -> None:
    schema = manifests.strict({
        "type": "object",
        "properties": {
            "closed": {"type": "object", "properties": {"a": {"type": "string"}}},
            "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {}},
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
            "optional": {"type": "string", "nullable": True},
        },
    })
    assert schema["additionalProperties"] is False
    assert schema["properties"]["closed"]["additionalProperties"] is False
    assert "additionalProperties" not in schema["properties"]["open"]
    assert schema["properties"]["map"]["additionalProperties"] == {"type": "string"}
    assert schema["properties"]["optional"]["type"] == ["string", "null"]


def test_every_vendored_crd_is_documented_with_its_source() -> None:
    readme = (manifests.CRDS / "README.md").read_text()
    vendored = [path.name for path in manifests.CRDS.iterdir() if path.suffix in (".yaml", ".yml", ".json")]
    assert vendored
    undocumented = [name for name in vendored if f"`{name}`" not in readme]
    assert not undocumented, f"add these to the table in tests/deploy/crds/README.md: {undocumented}"

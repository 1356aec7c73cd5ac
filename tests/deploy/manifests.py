"""Render every deployment variant under deploy/ and validate it strictly, offline, like `kubeconform -strict`.

Why strict and offline: `kubectl apply` against a real cluster is where a misspelled field (`spec.replica`) or a
field of the wrong type would otherwise first show up, or worse be dropped silently by a client-side apply. The
checks here need no cluster and no network:

- built-in kinds are validated with kubernetes-validate (PyPI), which ships Kubernetes' own OpenAPI schemas, in its
  strict variant (unknown fields are errors), for each Kubernetes version in `kubernetes_versions()`;
- custom resources (KEDA, Prometheus Operator, cert-manager, the store operators...) are validated with jsonschema
  against the upstream CRD schemas vendored in tests/deploy/crds/ (see its README.md), made strict the way
  kubeconform does: an object that lists `properties` and says nothing of other fields
  (`additionalProperties`, `x-kubernetes-preserve-unknown-fields`) accepts no other field. Their `metadata`, which
  a CRD schema leaves open, is validated as Kubernetes' ObjectMeta;
- a kind with no schema at all is an error, never a pass: a new operator's resources need their CRD vendored.

What is validated (all discovered, so a new overlay or example is covered without editing the tests):

- every kustomize variant: each directory under deploy/ holding a kustomization.yaml, rendered with
  `kubectl kustomize`;
- every standalone manifest: a YAML file under deploy/ that holds Kubernetes objects (a document with `apiVersion`
  and `kind`) and that no kustomization refers to, such as deploy/k8s/certificates.example.yaml (it needs
  cert-manager's CRDs, so the base does not apply it) and deploy/k8s/secret.example.yaml (placeholders). Files a
  kustomization refers to are left to the render: a patch is only part of an object and would fail on its own.
  YAML that is not Kubernetes objects (deploy/prometheus/rules.yaml, a Prometheus rule file) is not a manifest.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

try:
    from kubernetes_validate.utils import all_versions, latest_version, major_minor, schema_contents
except ImportError as missing:  # pragma: no cover - only without the dev requirements
    raise ImportError("kubernetes-validate is not installed: run `make install` (or `.venv/bin/pip install -r "
                      "requirements-dev.txt`); it ships the Kubernetes schemas these tests validate "
                      "against") from missing

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CRDS = Path(__file__).resolve().parent / "crds"
README = DEPLOY / "k8s" / "README.md"

# The oldest Kubernetes deploy/k8s/README.md says we support ("Kubernetes 1.27 or later": gRPC probes and the
# topology spread constraints' matchLabelKeys); test_manifest_schemas checks the two agree.
OLDEST_SUPPORTED = "1.27"

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
INSTALL_KUBECTL = (
    "kubectl is not on PATH: the manifest tests render deploy/ with `kubectl kustomize`. Install kubectl 1.27 or "
    "later (Kubernetes' or Google Cloud's apt repository, package kubectl; Debian's kubernetes-client 1.20 is too "
    "old for these kustomizations) and run `make test` again."
)


def kubernetes_versions() -> tuple[str, ...]:
    """The oldest Kubernetes we claim to support and the newest whose schemas kubernetes-validate ships."""
    return (OLDEST_SUPPORTED, major_minor(latest_version()))


def kustomize_variants() -> list[Path]:
    """Every directory under deploy/ holding a kustomization: the base, its overlays and optional add-ons."""
    return sorted({path.parent for name in KUSTOMIZATION_NAMES for path in DEPLOY.rglob(name)})


def render(variant: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize` builds for one variant, as `kubectl apply -k` would send them."""
    kubectl = shutil.which("kubectl")
    assert kubectl, INSTALL_KUBECTL
    result = subprocess.run([kubectl, "kustomize", str(variant)], capture_output=True, text=True, timeout=120)
    shown = variant.relative_to(ROOT) if variant.is_relative_to(ROOT) else variant
    assert result.returncode == 0, f"kubectl kustomize {shown} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


def referenced_by_kustomizations() -> set[Path]:
    """Files some kustomization names (resources, patches, generators' files...), found by resolving every string
    in it against its directory: whatever kustomize feature names a file, the file is taken care of by the render."""
    referenced: set[Path] = set()
    for variant in kustomize_variants():
        for name in KUSTOMIZATION_NAMES:
            if (variant / name).is_file():
                kustomization = yaml.safe_load((variant / name).read_text()) or {}
                for value in _strings(kustomization):
                    value = value.split("=", 1)[-1]  # configMapGenerator files: key=path
                    candidate = (variant / value).resolve()
                    if candidate.is_file():
                        referenced.add(candidate)
    return referenced


def standalone_manifests() -> list[Path]:
    """YAML files under deploy/ that hold Kubernetes objects and that no kustomization renders."""
    referenced = referenced_by_kustomizations()
    manifests = []
    for path in sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")]):
        if path.name in KUSTOMIZATION_NAMES or path.resolve() in referenced:
            continue
        documents = list(yaml.safe_load_all(path.read_text()))
        if any(isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc for doc in documents):
            manifests.append(path)
    return manifests


def load_manifest(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


@dataclass(frozen=True)
class SchemaError:
    """One way a document breaks its schema: where (a JSON path into the document) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def describe(document: Any) -> str:
    """`Kind namespace/name` for failure messages."""
    if not isinstance(document, dict):
        return repr(document)[:80]
    metadata = document["metadata"] if isinstance(document.get("metadata"), dict) else {}
    name = "/".join(str(part) for part in (metadata.get("namespace"), metadata.get("name")) if part)
    return f"{document.get('kind', '<no kind>')} {name or '<no name>'}"


def validate(document: Any, kubernetes_version: str) -> list[SchemaError]:
    """Every schema error of one object for one Kubernetes version; an empty list when it is valid."""
    if not isinstance(document, dict) or not isinstance(document.get("apiVersion"), str) or not isinstance(
            document.get("kind"), str):
        return [SchemaError("$", "not a Kubernetes object: apiVersion and kind must be strings")]
    api_version, kind = document["apiVersion"], document["kind"]
    validator = _built_in_validator(api_version, kind, kubernetes_version) if _is_built_in_group(api_version) else None
    # Not built in: a custom resource, including a CRD under a *.k8s.io group (Gateway API...).
    if validator is None:
        validator = _custom_resource_validator(api_version, kind.lower())
        if validator is None:
            return [SchemaError("$", f"no schema for {api_version} {kind}: add its CRD to tests/deploy/crds "
                                     f"(see tests/deploy/crds/README.md), or check the apiVersion and kind")]
        if "metadata" not in document:
            return [SchemaError("$", "'metadata' is a required property")]
        # A CRD's schema leaves metadata open; the API server still holds it to ObjectMeta: so do we, with the
        # metadata schema of a ConfigMap (whose other fields are all optional).
        meta = _built_in_validator("v1", "ConfigMap", kubernetes_version)
        assert meta is not None
        meta_errors = meta.iter_errors({"apiVersion": "v1", "kind": "ConfigMap", "metadata": document["metadata"]})
    else:
        meta_errors = iter(())
    errors = sorted([*validator.iter_errors(document), *meta_errors], key=lambda error: list(error.absolute_path))
    return [SchemaError(json_path(error.absolute_path), error.message) for error in errors]


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.removeprefix("v").split(".")[:2]
    return int(major), int(minor)


def json_path(path: Any) -> str:
    """`$.spec.template.spec.containers[0].image`: where in the document, as a reader would write it."""
    rendered = "$"
    for part in path:
        rendered += f"[{part}]" if isinstance(part, int) else f".{part}"
    return rendered


def _is_built_in_group(api_version: str) -> bool:
    """Kubernetes' own API groups: the core group (`v1`), the dotless ones (`apps`, `batch`...) and *.k8s.io."""
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


@cache
def _built_in_validator(api_version: str, kind: str, kubernetes_version: str) -> jsonschema.Draft202012Validator | None:
    """kubernetes-validate's strict schema for a built-in kind, loaded once: `kubernetes_validate.validate` reads
    and parses Kubernetes' whole definitions file on every call, and reports only its best error. The file lookup
    is the library's own (kubernetes_validate.utils, pinned in requirements-dev.txt); test_manifest_schemas checks
    this agrees with `kubernetes_validate.validate`. None when this Kubernetes has no such kind."""
    wanted = _minor(kubernetes_version)
    shipped = [version for version in all_versions() if _minor(version) <= wanted]
    if not shipped:
        raise ValueError(f"kubernetes-validate has no schemas for Kubernetes {kubernetes_version}")
    schema_dir = f"kubernetes-json-schema/v{shipped[-1]}-local-strict"
    # apps/v1 -> apps-v1, rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1, as kubernetes-validate names its files
    file_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = schema_contents(f"{schema_dir}/{kind.lower()}-{file_version}.json", kubernetes_version)
    except FileNotFoundError:
        return None
    definitions = schema_contents(f"{schema_dir}/_definitions.json", kubernetes_version)
    registry: Registry[Any] = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


@cache
def _custom_resource_validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    schema = custom_resource_schemas().get((api_version, kind))
    return None if schema is None else jsonschema.Draft202012Validator(schema)


@cache
def custom_resource_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """Strict JSON schemas by (apiVersion, lower-case kind), from tests/deploy/crds/: upstream CRD YAML (every version
    it serves) or JSON schemas named `<group>_<kind>_<version>.json` (as in datreeio/CRDs-catalog, flattened)."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(CRDS.iterdir()) if CRDS.is_dir() else []:
        if path.suffix in (".yaml", ".yml"):
            for crd in yaml.safe_load_all(path.read_text()):
                if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
                    continue
                spec = crd["spec"]
                for version in spec["versions"]:
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"].lower())
                    schemas[key] = strict(version["schema"]["openAPIV3Schema"])
        elif path.suffix == ".json":
            match = re.fullmatch(r"(?P<group>.+)_(?P<kind>[a-z0-9]+)_(?P<version>v[0-9a-z]+)", path.stem)
            assert match, f"{path.name}: name a CRD JSON schema <group>_<kind>_<version>.json"
            key = (f"{match['group']}/{match['version']}", match["kind"])
            schemas[key] = strict(json.loads(path.read_text()))
    return schemas


def strict(schema: Any) -> Any:
    """The schema with kubeconform's -strict reading of OpenAPI: objects that declare their properties accept no
    others unless they say so, and OpenAPI's `nullable` becomes JSON Schema's null type."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: value if key in ("enum", "default", "example", "const", "properties") else strict(value)
              for key, value in schema.items()}
    if isinstance(schema.get("properties"), dict):
        # a map of field names to schemas: each schema is made strict, the names are left alone
        result["properties"] = {name: strict(value) for name, value in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            result["additionalProperties"] = False
    if schema.get("nullable") is True and isinstance(schema.get("type"), str):
        result["type"] = [schema["type"], "null"]
    return result


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)

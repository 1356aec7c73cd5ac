"""The Kubernetes manifests agree with the code: every service is deployed (from the one image, its Deployment's
command picking it), hardened and probed where it actually listens, and every setting they pass is one the services
read. The image itself (Dockerfile) is checked in tests/deploy/test_image.py.

Docker and a cluster are not needed: the files are parsed and compared with Settings, the metrics ports and the
protos. A new folder under services/ fails here until it has a manifest.
"""

from __future__ import annotations

import re
import site
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from postman_shared.metrics import DEFAULT_METRICS_PORTS, HEALTH_PORT_OFFSET
from postman_shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
IMAGE = "postman"  # the one image every workload runs (Dockerfile; deploy/k8s/kustomization.yaml maps it)
NOT_APPLIED = {"kustomization.yaml", "secret.example.yaml", "certificates.example.yaml"}
SERVICE_FOLDERS = sorted(
    p.name for p in (ROOT / "services").iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
)
# Every *_addr setting names a gRPC service: auth_addr -> "auth", served at <name>:<port>.
GRPC_SERVICES = sorted(name[: -len("_addr")] for name in vars(Settings()) if name.endswith("_addr"))
# A sender's address setting is named after what it serves (telegram_sender_addr), its folder after the channel.
SENDER_ADDRESSES = {"sms_sender": ("sender-sms", "SmsSenderService"),
                    "telegram_sender": ("sender-telegram", "TelegramSenderService"),
                    "email_sender": ("sender-email", "TransactionalEmailService")}


def folder_serving(service: str) -> str:
    """The services/ folder (and Deployment, Service) serving the gRPC address ``<service>_addr``."""
    return SENDER_ADDRESSES[service][0] if service in SENDER_ADDRESSES else service


def health_name_of(service: str) -> str:
    name = SENDER_ADDRESSES[service][1] if service in SENDER_ADDRESSES else f"{service.capitalize()}Service"
    return f"postman.v1.{name}"


def package_of(folder: str) -> str:
    return "postman_" + folder.replace("-", "_")


# --- reading the files ------------------------------------------------------------------------------------------------

@cache
def documents(filename: str) -> tuple[dict[str, Any], ...]:
    with (K8S / filename).open() as stream:
        return tuple(doc for doc in yaml.safe_load_all(stream) if doc)


def applied_documents() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, doc) for path in sorted(K8S.glob("*.yaml")) if path.name not in NOT_APPLIED
            for doc in documents(path.name)]


def find(kind: str, name: str) -> dict[str, Any]:
    matches = [doc for _, doc in applied_documents() if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} named {name!r} in deploy/k8s, found {len(matches)}"
    return matches[0]


def workloads() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{filename}:{doc['kind']}/{doc['metadata']['name']}", doc) for filename, doc in applied_documents()
            if doc["kind"] in ("Deployment", "Job")]


def only_container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']} should run exactly one container"
    return containers[0]


def container_ports(workload: dict[str, Any]) -> dict[str, int]:
    return {port["name"]: port["containerPort"] for port in only_container(workload).get("ports", [])}


def config() -> dict[str, str]:
    return find("ConfigMap", "postman-config")["data"]


# --- every service is built and deployed ------------------------------------------------------------------------------

@pytest.mark.parametrize("folder", SERVICE_FOLDERS)
def test_every_service_folder_is_run_by_its_deployment_from_the_one_image(folder: str) -> None:
    container = only_container(find("Deployment", folder))
    assert container["image"] == IMAGE, f"deploy/k8s/{folder}.yaml: every service runs the one image {IMAGE!r}"
    assert container["command"] == ["python", "-m", package_of(folder)], (
        f"deploy/k8s/{folder}.yaml: the image picks no service; the command must run {package_of(folder)}")


@pytest.mark.parametrize("folder", SERVICE_FOLDERS)
def test_every_service_folder_has_a_manifest_with_its_deployment(folder: str) -> None:
    manifest = K8S / f"{folder}.yaml"
    assert manifest.exists(), f"services/{folder} has no deploy/k8s/{folder}.yaml: copy deploy/k8s/auth.yaml"
    assert f"{folder}.yaml" in kustomization()["resources"], f"kustomization.yaml does not list {folder}.yaml"
    deployment = find("Deployment", folder)
    assert only_container(deployment)["image"] == IMAGE
    account = find("ServiceAccount", folder)
    assert account.get("automountServiceAccountToken") is False
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == folder
    assert {doc["kind"] for doc in documents(f"{folder}.yaml")} >= {"Deployment", "ServiceAccount"}


def kustomization() -> dict[str, Any]:
    return documents("kustomization.yaml")[0]


def test_kustomization_applies_every_manifest_except_the_secret_example() -> None:
    on_disk = {path.name for path in K8S.glob("*.yaml")} - NOT_APPLIED
    assert set(kustomization()["resources"]) == on_disk
    assert kustomization()["namespace"] == "postman"


def test_kustomization_maps_every_image_the_manifests_use() -> None:
    used = {only_container(workload)["image"] for _, workload in workloads()}
    mapped = {image["name"] for image in kustomization()["images"]}
    assert used == mapped


def test_secret_example_holds_only_placeholders() -> None:
    (secret,) = documents("secret.example.yaml")
    assert secret["metadata"]["name"] == "postman-secrets"
    referenced = {
        env["valueFrom"]["secretKeyRef"]["key"]
        for _name, workload in workloads()
        for env in only_container(workload).get("env", [])
        if "secretKeyRef" in env.get("valueFrom", {})
    }
    missing = referenced - set(secret["stringData"])
    assert not missing, f"secret.example.yaml lacks keys the manifests read: {sorted(missing)}"
    for key, value in secret["stringData"].items():
        assert "CHANGE-ME" in value, f"secret.example.yaml: {key} must be a placeholder"


def import_with_only_its_own_folder(module: str, folder: str) -> subprocess.CompletedProcess[str]:
    """Imports a module with only lib/, that service folder and the venv on sys.path. The image holds every service,
    but services talk over gRPC and RabbitMQ, never by importing each other: this keeps them separable."""
    path = [str(ROOT / "lib"), str(ROOT / "services" / folder), *site.getsitepackages()]
    # -S: no site processing, so the editable install cannot put the other services' folders on the path.
    code = f"import sys; sys.path[:0] = {path!r}; import {module}"
    return subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("folder", SERVICE_FOLDERS)
def test_each_service_imports_with_only_the_shared_library_and_its_own_folder(folder: str) -> None:
    package = package_of(folder)
    assert (ROOT / "services" / folder / package / "__main__.py").exists(), (
        f"services/{folder}/{package} has no __main__.py: its Deployment runs python -m {package}")
    result = import_with_only_its_own_folder(f"{package}.__main__", folder)
    assert result.returncode == 0, f"services/{folder} imports another service's code:\n" + (
        result.stderr.strip().splitlines() or ["(no output)"])[-1]


# --- pods are hardened ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("where,workload", workloads(), ids=[where for where, _ in workloads()])
def test_every_workload_runs_non_root_read_only_and_within_limits(where: str, workload: dict[str, Any]) -> None:
    pod = workload["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True, where
    assert pod["securityContext"]["runAsUser"] == 10001, where
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
    assert pod["automountServiceAccountToken"] is False, where
    container = only_container(workload)
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True, where
    assert security["allowPrivilegeEscalation"] is False, where
    assert security["capabilities"]["drop"] == ["ALL"], where
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][bound]), f"{where}: resources.{bound}"
    tmp_volumes = [m["name"] for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert tmp_volumes, f"{where}: a read-only root filesystem needs a writable /tmp"
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp_volumes[0])
    if workload["kind"] == "Deployment":  # long enough to stop cleanly: tests/deploy/test_resilience.py
        assert 30 <= pod["terminationGracePeriodSeconds"] <= 120, where


# --- probes and ports match where the services listen -----------------------------------------------------------------

@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_grpc_services_are_probed_and_served_on_the_port_of_their_address(service: str) -> None:
    address = config()[f"{service.upper()}_ADDR"]
    host, port = address.rsplit(":", 1)
    folder = folder_serving(service)
    assert host == folder, f"{service.upper()}_ADDR should name the {folder} Service, got {address!r}"
    port_number = int(port)
    deployment = find("Deployment", folder)
    container = only_container(deployment)
    where = f"deploy/k8s/{folder}.yaml (configmap.yaml has {service.upper()}_ADDR={address})"
    assert container_ports(deployment)["grpc"] == port_number, where
    health_name = health_name_of(service)
    # The gRPC port asks for a client certificate, which the kubelet's probe cannot present: probes ask the
    # plaintext health-only port (HEALTH_PORT, by default the metrics port + 100).
    health_port = DEFAULT_METRICS_PORTS[folder] + HEALTH_PORT_OFFSET
    assert container_ports(deployment)["health"] == health_port, where
    assert container["readinessProbe"]["grpc"] == {"port": health_port, "service": health_name}, where
    assert container["livenessProbe"]["grpc"]["port"] == health_port, where
    assert proto_services() >= {health_name}, f"no proto declares {health_name}"
    (service_port,) = find("Service", folder)["spec"]["ports"]
    assert (service_port["port"], service_port["targetPort"]) == (port_number, "grpc"), where


@cache
def proto_services() -> set[str]:
    return {f"postman.v1.{name}" for proto in (ROOT / "protos" / "postman" / "v1").glob("*.proto")
            for name in re.findall(r"^service\s+(\w+)", proto.read_text(), re.MULTILINE)}


def metrics_port_of(folder: str) -> int:
    return DEFAULT_METRICS_PORTS[folder]


@pytest.mark.parametrize("folder", SERVICE_FOLDERS)
def test_metrics_are_scraped_where_each_service_serves_them(folder: str) -> None:
    deployment = find("Deployment", folder)
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == metrics_port_of(folder)
    assert metrics_port_of(folder) in container_ports(deployment).values()


def test_services_without_a_grpc_server_are_probed_on_their_metrics_port() -> None:
    for folder in set(SERVICE_FOLDERS) - {folder_serving(service) for service in GRPC_SERVICES} - {"gateway"}:
        container = only_container(find("Deployment", folder))
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["tcpSocket"]["port"] == DEFAULT_METRICS_PORTS[folder], f"{folder} {probe}"


def test_gateway_is_probed_on_ping_and_the_ingress_sends_it_everything_but_its_metrics() -> None:
    gateway = find("Deployment", "gateway")
    container = only_container(gateway)
    ports = container_ports(gateway)
    assert ports["http"] == int(config()["GATEWAY_PORT"])
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/v1/ping", "port": "http"}
    # Only the HTTP port is published; /metrics is on a port of its own that no Service names.
    assert [p["targetPort"] for p in find("Service", "gateway")["spec"]["ports"]] == ["http"]
    assert ports["metrics"] == DEFAULT_METRICS_PORTS["gateway"] != ports["http"]
    ingress = find("Ingress", "gateway")
    paths = [path for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    # Every path: the API, the officers' web pages, recipients' pages and provider callbacks.
    assert [(p["path"], p["pathType"], p["backend"]["service"]["name"], p["backend"]["service"]["port"]["name"])
            for p in paths] == [("/", "Prefix", "gateway", "http")]
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts <= {host for tls in ingress["spec"]["tls"] for host in tls["hosts"]}, "every host served over TLS"
    annotations = ingress["metadata"]["annotations"]
    # The gateway decides each route's body limit; the controller must let the largest upload through, unbuffered.
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"
    body_limit = annotations["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert body_limit.endswith("m") and int(body_limit[:-1]) * 1024 * 1024 > int(config()["MAX_UPLOAD_BYTES"])


# --- configuration ----------------------------------------------------------------------------------------------------

def test_every_environment_variable_in_the_manifests_is_a_real_setting() -> None:
    known = set(Settings().env_names())
    used = {("configmap.yaml", name) for name in config()}
    used |= {("secret.example.yaml", name) for name in documents("secret.example.yaml")[0]["stringData"]}
    for where, workload in workloads():
        used |= {(where, env["name"]) for env in only_container(workload).get("env", [])}
    unknown = sorted(f"{where}: {name}" for where, name in used if name not in known and not name.startswith("AWS_"))
    assert not unknown, "not a setting in lib/postman_shared/settings.py:\n" + "\n".join(unknown)


def test_secret_references_name_keys_of_the_secret_example() -> None:
    keys = set(documents("secret.example.yaml")[0]["stringData"])
    for where, workload in workloads():
        container = only_container(workload)
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert (ref["name"], ref["key"]) in {("postman-secrets", key) for key in keys}, where
        assert container["envFrom"] == [{"configMapRef": {"name": "postman-config"}}], where


def test_configmap_is_valid_settings_for_a_cluster() -> None:
    settings = Settings.from_env(config())
    assert settings.grpc_bind_host == "0.0.0.0"
    assert settings.gateway_host == "0.0.0.0"
    assert settings.object_store == "s3", "pods share no upload folder: the cluster needs OBJECT_STORE=s3"
    assert settings.s3_bucket
    # Shared by every pod, so a per-service port here would move every service to the same port.
    assert not {"GRPC_PORT", "METRICS_PORT", "HEALTH_PORT"} & set(config())
    assert settings.grpc_insecure is False, "services in a cluster prove who they are: mutual TLS"
    assert str(settings.grpc_tls_dir) == "/etc/postman/certs"
    assert "METRICS_BIND_HOST" not in config(), "each pod binds metrics to its own address (status.podIP)"


@pytest.mark.parametrize("folder", SERVICE_FOLDERS)
def test_every_service_mounts_its_own_certificate_and_binds_metrics_to_the_pod_address(folder: str) -> None:
    deployment = find("Deployment", folder)
    container = only_container(deployment)
    tls_dir = Settings.from_env(config()).grpc_tls_dir
    [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == f"{tls_dir}/{folder}"]
    assert mount.get("readOnly") is True
    [volume] = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == f"postman-tls-{folder}"
    [bind] = [env for env in container["env"] if env["name"] == "METRICS_BIND_HOST"]
    assert bind["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"


# --- the setup Job ----------------------------------------------------------------------------------------------------

def test_setup_job_runs_postmanctl_setup_from_the_one_image() -> None:
    container = only_container(find("Job", "postman-setup"))
    assert container["image"] == IMAGE
    # migrations/env.py imports the models of every service: the one image holds them all, and alembic.ini.
    assert [*container["command"], *container.get("args", [])] == ["postmanctl", "setup"]

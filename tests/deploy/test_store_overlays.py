"""The in-cluster stores of deploy/stores (RabbitMQ, PostgreSQL with PgBouncer, Redis): kustomize components an
agency takes all of (deploy/with-stores), some of, or none of (managed services instead). These tests render the
components with the base the way an overlay does and check what an SRE would otherwise find out on a live cluster:

- every subset of the stores renders, with exactly that subset's objects;
- the connection URLs the docs give (deploy/stores/secrets.example.yaml) name the Services, vhost, users and database
  the components create, and every Secret a pod needs is documented;
- the pooler and PostgreSQL take the worst case: every pod that opens a database pool, at the most replicas KEDA may
  scale it to plus a rolling update's surge, each with its SQLAlchemy pool full (lib/postman_shared/db.py);
- the network policies let each workload reach exactly the stores its code uses (the settings it reads), on their
  client ports, and nothing reaches PostgreSQL except through the pooler.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from postman_shared.db import Database
from tests.deploy.test_settings_per_deployment import settings_read_by

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import network_policies as policies  # noqa: E402 - the generator, from tools/

DEPLOY = ROOT / "deploy"
STORES = DEPLOY / "stores"
COMPONENTS = ("rabbitmq", "postgres", "redis")
STORES_NAMESPACE = "postman-stores"
SECRETS_EXAMPLE = STORES / "secrets.example.yaml"
K8S_README = DEPLOY / "k8s" / "README.md"
# The setting each store's clients read, and the store's name in the network-policy generator.
STORE_SETTING = {policies.POSTGRES: "database_url", policies.RABBITMQ: "amqp_url", policies.REDIS: "redis_url"}
AMQP_PORT, MANAGEMENT_PORT, POSTGRES_PORT = 5672, 15672, 5432
# Connections PostgreSQL keeps for others than the poolers: the operator's instance manager and exporter, the
# poolers' auth_query, replication checks and an administrator's psql. deploy/k8s/README.md gives the same figure.
NOT_POOLED_HEADROOM = 10
# Pods that open a pool besides the Deployments: the setup Job and an ad-hoc postmanctl pod (README), one each.
ONE_OFF_PODS = 2


# --- rendering --------------------------------------------------------------------------------------------------------

def kubectl() -> str:
    path = shutil.which("kubectl")
    assert path, "kubectl is not on PATH: these tests render deploy/ with `kubectl kustomize`"
    return path


def build(folder: Path) -> tuple[dict[str, Any], ...]:
    result = subprocess.run([kubectl(), "kustomize", str(folder)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"kubectl kustomize {folder} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def overlay(folder: Path, base: str, components: tuple[str, ...]) -> Path:
    """An agency's overlay: the base (deploy/k8s or deploy/keda) plus some of the store components."""
    folder.mkdir(parents=True, exist_ok=True)
    relative = lambda target: os.path.relpath(target, folder)  # noqa: E731 - kustomize refuses absolute roots
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                     "resources": [relative(DEPLOY / base)],
                     "components": [relative(STORES / "namespace"), *(relative(STORES / c) for c in components)]}
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return folder


@cache
def with_stores() -> tuple[dict[str, Any], ...]:
    return build(DEPLOY / "with-stores")


def of_kind(documents: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


def the_one(documents: tuple[dict[str, Any], ...], kind: str) -> dict[str, Any]:
    (found,) = of_kind(documents, kind).values()
    return found


def workloads(documents: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    """The platform's Deployments and Jobs (namespace postman), by their app.kubernetes.io/name."""
    return {doc["spec"]["template"]["metadata"]["labels"][policies.NAME_LABEL]: doc for doc in documents
            if doc["kind"] in ("Deployment", "Job") and doc["metadata"]["namespace"] == policies.NAMESPACE}


def secret_example(name: str) -> dict[str, Any]:
    documents = [doc for doc in yaml.safe_load_all(SECRETS_EXAMPLE.read_text()) if doc]
    (found,) = [doc for doc in documents if doc["metadata"]["name"] == name]
    return found


def env_item(workload: dict[str, Any], name: str) -> dict[str, Any] | None:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    found = [item for item in container.get("env", []) if item["name"] == name]
    return found[-1] if found else None


# --- every subset renders ---------------------------------------------------------------------------------------------

STORE_KINDS = {"rabbitmq": {"RabbitmqCluster", "Vhost", "User", "Permission"}, "postgres": {"Cluster", "Pooler"},
               "redis": set()}
SUBSETS = [subset for size in range(1, len(COMPONENTS) + 1) for subset in itertools.combinations(COMPONENTS, size)]


@pytest.mark.parametrize("base", ["k8s", "keda"])
@pytest.mark.parametrize("subset", SUBSETS, ids="+".join)
def test_each_subset_of_the_stores_renders_with_exactly_its_objects(tmp_path: Path, subset: tuple[str, ...],
                                                                     base: str) -> None:
    documents = build(overlay(tmp_path / "overlay", base, subset))
    kinds = {doc["kind"] for doc in documents}
    for component in COMPONENTS:
        if STORE_KINDS[component]:
            assert (STORE_KINDS[component] <= kinds) == (component in subset), component
    in_stores = {(doc["kind"], doc["metadata"]["name"]) for doc in documents
                 if doc["metadata"].get("namespace") == STORES_NAMESPACE}
    assert (("Deployment", "redis") in in_stores) == ("redis" in subset)
    assert {name.split("-clients")[0] for kind, name in
            {(d["kind"], d["metadata"]["name"]) for d in documents} if name.endswith("-clients")} == set(subset)
    # The platform itself is whole, and stays in its namespace.
    assert set(workloads(documents)) == set(workloads(with_stores()))
    config = of_kind(documents, "ConfigMap")["postman-config"]["data"]
    assert ("REDIS_URL" in config) == ("redis" not in subset), "REDIS_URL belongs in the ConfigMap or the Secret"


def test_the_with_stores_overlay_is_the_base_with_every_store(tmp_path: Path) -> None:
    assert with_stores() == build(overlay(tmp_path / "overlay", "k8s", COMPONENTS))


# --- the documented URLs name what the components create --------------------------------------------------------------

def store_url(key: str) -> Any:
    return urlsplit(secret_example("postman-secrets")["stringData"][key])


def service_host(name: str) -> str:
    return f"{name}.{STORES_NAMESPACE}.svc"


def test_database_url_goes_through_the_pooler_to_the_clusters_database() -> None:
    cluster, pooler = the_one(with_stores(), "Cluster"), the_one(with_stores(), "Pooler")
    url = store_url("DATABASE_URL")
    # CloudNativePG names a Pooler's Service after the Pooler; the Pooler serves the Cluster's primary.
    assert url.hostname == service_host(pooler["metadata"]["name"]), "DATABASE_URL must name the pooler's Service"
    assert (url.port, pooler["spec"]["type"], pooler["spec"]["cluster"]["name"]) == (
        POSTGRES_PORT, "rw", cluster["metadata"]["name"])
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    owner = secret_example(initdb["secret"]["name"])
    assert owner["metadata"]["namespace"] == cluster["metadata"]["namespace"]
    assert (url.path.lstrip("/"), url.username) == (initdb["database"], initdb["owner"])
    assert (url.username, url.password) == (owner["stringData"]["username"], owner["stringData"]["password"])
    assert "sslmode=require" in url.query, "PgBouncer speaks TLS with the cluster's certificate"


def test_amqp_url_names_the_clusters_service_vhost_and_imported_user() -> None:
    documents = with_stores()
    broker, vhost = the_one(documents, "RabbitmqCluster"), the_one(documents, "Vhost")
    user, permission = the_one(documents, "User"), the_one(documents, "Permission")
    url = store_url("AMQP_URL")
    assert (url.hostname, url.port) == (service_host(broker["metadata"]["name"]), AMQP_PORT)
    assert unquote(url.path[1:]) == vhost["spec"]["name"]
    credentials = secret_example(user["spec"]["importCredentialsSecret"]["name"])
    assert credentials["metadata"]["namespace"] == user["metadata"]["namespace"] == STORES_NAMESPACE
    assert (url.username, url.password) == (credentials["stringData"]["username"],
                                           credentials["stringData"]["password"])
    assert permission["spec"]["userReference"]["name"] == user["metadata"]["name"]
    assert permission["spec"]["vhost"] == vhost["spec"]["name"]
    assert permission["spec"]["permissions"] == {"configure": ".*", "write": ".*", "read": ".*"}
    for resource in (vhost, user, permission):
        assert resource["spec"]["rabbitmqClusterReference"]["name"] == broker["metadata"]["name"]
    # postmanctl setup sets the queue policies through the management API as this user.
    assert "policymaker" in user["spec"]["tags"]


def test_the_setup_job_sets_queue_policies_through_the_in_cluster_brokers_management_api() -> None:
    """The base ConfigMap names a placeholder broker; with the RabbitMQ component the setup Job must reach this one."""
    documents = with_stores()
    broker = the_one(documents, "RabbitmqCluster")
    config = of_kind(documents, "ConfigMap")["postman-config"]["data"]
    url = urlsplit(config["RABBITMQ_MANAGEMENT_URL"])
    assert (url.scheme, url.hostname, url.port) == ("http", service_host(broker["metadata"]["name"]), MANAGEMENT_PORT)
    assert "rabbitmq_management" in broker["spec"]["rabbitmq"]["additionalPlugins"]


def test_the_brokers_memory_is_bounded_by_a_small_write_ahead_log() -> None:
    """A quorum queue node keeps its WAL in memory until it rolls over: with the default (512 MiB) a node's memory
    grows by that much under any sustained campaign, flow control or not."""
    broker = the_one(with_stores(), "RabbitmqCluster")
    config = dict(line.split(" = ", 1) for line in broker["spec"]["rabbitmq"]["additionalConfig"].splitlines()
                  if " = " in line and not line.lstrip().startswith("#"))
    assert 0 < int(config["raft.wal_max_size_bytes"]) <= 64_000_000


def test_redis_url_names_the_service_and_password_of_the_redis_deployment() -> None:
    documents = with_stores()
    service = of_kind(documents, "Service")["redis"]
    deployment = [d for d in documents if d["kind"] == "Deployment" and d["metadata"]["namespace"] == STORES_NAMESPACE]
    (redis,) = deployment
    url = store_url("REDIS_URL")
    assert (url.hostname, url.port) == (service_host("redis"), service["spec"]["ports"][0]["port"])
    assert service["spec"]["selector"].items() <= redis["spec"]["template"]["metadata"]["labels"].items()
    reference = env_item(redis, "REDIS_PASSWORD")["valueFrom"]["secretKeyRef"]  # type: ignore[index]
    password = secret_example(reference["name"])["stringData"][reference["key"]]
    assert url.password == password
    pod = redis["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"]
    assert re.fullmatch(r"redis:\d+\.\d+\.\d+", container["image"]), "pin Redis to an exact release"
    assert password not in " ".join(container.get("args", [])), "the password is read from the Secret"


def test_every_pod_finds_the_secret_keys_it_needs_and_redis_users_read_it_from_the_secret() -> None:
    base_keys = set(yaml.safe_load((DEPLOY / "k8s" / "secret.example.yaml").read_text())["stringData"])
    documented = base_keys | set(secret_example("postman-secrets")["stringData"])
    for name, workload in workloads(with_stores()).items():
        (container,) = workload["spec"]["template"]["spec"]["containers"]
        needed = {item["valueFrom"]["secretKeyRef"]["key"] for item in container.get("env", [])
                  if "secretKeyRef" in item.get("valueFrom", {})}
        assert needed <= documented, f"{name} needs undocumented keys of postman-secrets: {needed - documented}"
        reads_redis = "redis_url" in settings_read_by(name)
        item = env_item(workload, "REDIS_URL")
        from_secret = item is not None and item["valueFrom"]["secretKeyRef"] == {"name": "postman-secrets",
                                                                                "key": "REDIS_URL"}
        assert from_secret == reads_redis, f"{name}: REDIS_URL from the Secret exactly when its code reads it"


# --- the connection budget --------------------------------------------------------------------------------------------

def connections_per_pod() -> int:
    """The most connections one service process opens: its SQLAlchemy pool, full, plus the overflow."""
    runtime = (ROOT / "lib" / "postman_shared" / "runtime.py").read_text()
    assert "Database(self.settings.database_url)" in runtime, "the services' pool size changed: recount the budget"
    pool = Database("postgresql://budget@pooler.invalid/postman").engine.pool
    return pool.size() + pool._max_overflow  # type: ignore[attr-defined]


def surge(deployment: dict[str, Any], replicas: int) -> int:
    rolling = deployment["spec"].get("strategy", {}).get("rollingUpdate", {})
    value = str(rolling.get("maxSurge", "25%"))
    return math.ceil(replicas * int(value[:-1]) / 100) if value.endswith("%") else int(value)


def worst_case_client_connections() -> tuple[int, dict[str, int]]:
    """Every pod that opens a database pool, each at the most replicas it may run (KEDA's maximum, else its
    replicas, plus a rolling update's surge), times a full pool."""
    scaled = {doc["spec"]["scaleTargetRef"]["name"]: doc["spec"]["maxReplicaCount"]
              for doc in build(DEPLOY / "keda") if doc["kind"] == "ScaledObject"}
    pods: dict[str, int] = {}
    for name, workload in workloads(with_stores()).items():
        if workload["kind"] == "Deployment" and "database_url" in settings_read_by(name):
            most = max(workload["spec"]["replicas"], scaled.get(workload["metadata"]["name"], 0))
            pods[name] = most + surge(workload, most)
    return (sum(pods.values()) + ONE_OFF_PODS) * connections_per_pod(), pods


def test_pooler_and_postgres_take_every_pod_at_its_most_replicas() -> None:
    clients, pods = worst_case_client_connections()
    assert {"sender-email", "renderer"} <= set(pods) and "gateway" not in pods
    pooler, cluster = the_one(with_stores(), "Pooler"), the_one(with_stores(), "Cluster")
    bouncer = pooler["spec"]["pgbouncer"]
    parameters = {key: int(value) for key, value in bouncer["parameters"].items()}
    # Any one PgBouncer pod may be given every client (the other drained or restarting).
    assert parameters["max_client_conn"] >= clients, f"{clients} client connections at worst"
    postgres = cluster["spec"]["postgresql"]["parameters"]
    max_connections = int(postgres["max_connections"])
    available = max_connections - int(postgres.get("superuser_reserved_connections", 3)) - NOT_POOLED_HEADROOM
    server = pooler["spec"]["instances"] * parameters["max_db_connections"]
    assert server <= available, f"{server} pooled server connections, {available} available"
    assert parameters["default_pool_size"] + parameters.get("reserve_pool_size", 0) <= parameters["max_db_connections"]
    # Why the pooler is there: without it the pods alone would ask for more than PostgreSQL allows.
    assert clients > max_connections
    assert bouncer["poolMode"] == "transaction"


def test_the_readme_states_the_budget_the_manifests_give() -> None:
    clients, _ = worst_case_client_connections()
    text = K8S_README.read_text()
    assert f"{clients:,} client connections" in text, f"deploy/k8s/README.md should say {clients:,} client connections"
    assert f"{NOT_POOLED_HEADROOM} for the operator" in text


# --- network policies -------------------------------------------------------------------------------------------------

def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if not {"In": labels.get(key) in values, "NotIn": labels.get(key) not in values,
                "Exists": key in labels, "DoesNotExist": key not in labels}[operator]:
            return False
    return True


def store_pods(documents: tuple[dict[str, Any], ...]) -> dict[str, dict[str, str]]:
    """The labels of each kind of store pod, as the operators (or our Deployment) label them."""
    pods = {}
    for broker in of_kind(documents, "RabbitmqCluster").values():
        pods["rabbitmq"] = {policies.NAME_LABEL: broker["metadata"]["name"]}
    for pooler in of_kind(documents, "Pooler").values():
        pods["pooler"] = {"cnpg.io/poolerName": pooler["metadata"]["name"]}
    for cluster in of_kind(documents, "Cluster").values():
        pods["postgres"] = {"cnpg.io/cluster": cluster["metadata"]["name"], "cnpg.io/podRole": "instance"}
    for deployment in of_kind(documents, "Deployment").values():
        if deployment["metadata"]["namespace"] == STORES_NAMESPACE:
            pods[deployment["metadata"]["name"]] = deployment["spec"]["template"]["metadata"]["labels"]
    return pods


def reachable_stores(documents: tuple[dict[str, Any], ...], labels: dict[str, str]) -> dict[str, set[int]]:
    """Store pod kind -> the ports a pod with these labels (namespace postman) may open to it."""
    namespace = {"kubernetes.io/metadata.name": STORES_NAMESPACE}
    reach: dict[str, set[int]] = {}
    for policy in of_kind(documents, "NetworkPolicy").values():
        if policy["metadata"]["namespace"] != policies.NAMESPACE or not selects(policy["spec"]["podSelector"], labels):
            continue
        for rule in policy["spec"].get("egress", []):
            for peer in rule.get("to", []):
                if "namespaceSelector" not in peer or not selects(peer["namespaceSelector"], namespace):
                    continue
                for store, pod in store_pods(documents).items():
                    if selects(peer.get("podSelector", {}), pod):
                        reach.setdefault(store, set()).update(port["port"] for port in rule["ports"])
    return reach


def expected_reach(name: str) -> dict[str, set[int]]:
    """What a workload's code needs: the pooler, the broker and Redis, as the settings it reads say."""
    read = settings_read_by(name)
    expected: dict[str, set[int]] = {}
    if "database_url" in read:
        expected["pooler"] = {POSTGRES_PORT}
    if "amqp_url" in read:
        expected["rabbitmq"] = {AMQP_PORT} | ({MANAGEMENT_PORT} if name == policies.SETUP_JOB else set())
    if "redis_url" in read:
        expected["redis"] = {6379}
    return expected


def test_the_store_policies_are_generated_from_the_current_table() -> None:
    for store in policies.IN_CLUSTER:
        assert policies.store_output(store).read_text() == policies.render_store(store), \
            f"{policies.store_output(store).relative_to(ROOT)} is stale: run .venv/bin/python tools/network_policies.py"


@pytest.mark.parametrize("name", [*policies.WORKLOADS, policies.SETUP_JOB])
def test_the_generators_table_of_stores_is_what_the_code_reads(name: str) -> None:
    used = {store for store, setting in STORE_SETTING.items() if setting in settings_read_by(name)}
    assert policies.STORES_USED[name] == used


@pytest.mark.parametrize("name", [*policies.WORKLOADS, policies.SETUP_JOB])
def test_each_workload_reaches_exactly_the_in_cluster_stores_it_uses(name: str) -> None:
    documents = with_stores()
    labels = workloads(documents)[name]["spec"]["template"]["metadata"]["labels"]
    assert reachable_stores(documents, labels) == expected_reach(name)


@pytest.mark.parametrize("name", [*policies.WORKLOADS, policies.SETUP_JOB])
def test_each_workload_leaves_the_namespace_only_on_the_ports_of_its_own_stores(name: str) -> None:
    """The base's egress to any address (managed stores) opens a store's port only to the workloads using it."""
    base = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(policies.OUTPUT.read_text()) if doc}
    opened = {port["port"] for rule in base[name]["spec"]["egress"] for peer in rule.get("to", [])
              if "ipBlock" in peer for port in rule["ports"]}
    store_ports = {port for ports in policies.STORES.values() for port in ports}
    used = {port for store, setting in STORE_SETTING.items() if setting in settings_read_by(name)
            for port in policies.STORES[store]}
    assert opened & store_ports == used


def test_redis_accepts_only_its_clients_and_the_checks_can_fail() -> None:
    documents = with_stores()
    policy = of_kind(documents, "NetworkPolicy")["redis"]
    assert policy["metadata"]["namespace"] == STORES_NAMESPACE and policy["spec"]["egress"] == []
    (rule,) = policy["spec"]["ingress"]
    (peer,) = rule["from"]
    admitted = {name for name, workload in workloads(documents).items()
                if selects(peer["podSelector"], workload["spec"]["template"]["metadata"]["labels"])}
    assert admitted == {name for name in workloads(documents) if "redis_url" in settings_read_by(name)}
    # Without the component's client policy the gateway could not reach Redis: the evaluation above is not vacuous.
    gateway = workloads(documents)["gateway"]["spec"]["template"]["metadata"]["labels"]
    without = tuple(doc for doc in documents if doc["metadata"]["name"] != "redis-clients")
    assert "redis" in reachable_stores(documents, gateway) and "redis" not in reachable_stores(without, gateway)

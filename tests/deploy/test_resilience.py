"""What keeps the deployment up and contained: disruption budgets, pods spread over zones and nodes, and network
policies (deploy/k8s/network-policies.yaml): default deny, then per workload exactly the connections the
code makes. The file is generated from the servers' caller table (tools/network_policies.py); these tests keep it
generated from the current table, applied by kustomize, and in step with the gRPC clients each service's code
really builds (the ``settings.<service>_addr`` it dials)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import network_policies  # noqa: E402 - the generator, from tools/

DIALS = re.compile(r"settings\.([a-z]+(?:_[a-z]+)*_addr)\b")
ADDR_SERVED_BY = {setting.lower(): workload for workload, setting in network_policies.ADDRESS_SETTING.items()}


def committed() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(network_policies.OUTPUT.read_text()) if doc]


def policy(name: str) -> dict[str, Any]:
    [found] = [doc for doc in committed() if doc["metadata"]["name"] == name]
    return found


def pod_names(peer: dict[str, Any]) -> set[str]:
    expressions = peer.get("podSelector", {}).get("matchExpressions", [])
    return {value for e in expressions if e["key"] == network_policies.NAME_LABEL for value in e["values"]}


def grpc_peers(rules: list[dict[str, Any]], direction: str) -> dict[int, set[str]]:
    peers: dict[int, set[str]] = {}
    for rule in rules:
        names = {name for peer in rule.get(direction, []) for name in pod_names(peer)}
        if names:
            for port in rule["ports"]:
                peers.setdefault(port["port"], set()).update(names)
    return peers


def test_the_committed_policies_are_generated_from_the_current_caller_table():
    assert network_policies.OUTPUT.read_text() == network_policies.render(), \
        "deploy/k8s/network-policies.yaml is stale: run .venv/bin/python tools/network_policies.py"


def test_everything_is_denied_unless_a_policy_allows_it_and_kustomize_applies_them():
    deny = policy("default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not on PATH: this test renders deploy/k8s with `kubectl kustomize`"
    result = subprocess.run([kubectl, "kustomize", str(ROOT / "deploy" / "k8s")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    applied = {doc["metadata"]["name"] for doc in rendered if doc["kind"] == "NetworkPolicy"}
    assert applied == {doc["metadata"]["name"] for doc in committed()}
    for doc in rendered:
        if doc["kind"] in ("Deployment", "Job"):  # every workload has its own allow-list
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert labels[network_policies.NAME_LABEL] in applied, doc["metadata"]["name"]


def test_each_service_dials_exactly_the_grpc_ports_its_policy_lets_out():
    grpc = network_policies.grpc_ports()
    for workload in network_policies.WORKLOADS:
        package = ROOT / "services" / workload
        dialled = {ADDR_SERVED_BY[m] for path in package.rglob("*.py") for m in DIALS.findall(path.read_text())
                   if m in ADDR_SERVED_BY} - {workload}  # its own address is where it listens
        allowed = grpc_peers(policy(workload)["spec"]["egress"], "to")
        assert {name for names in allowed.values() for name in names} == dialled, workload
        for port, names in allowed.items():
            assert {grpc[name] for name in names} == {port}, f"{workload}: port {port} for {names}"


def test_each_grpc_port_is_open_only_to_the_services_the_caller_table_allows():
    from postman_shared.grpc.authorization import ALLOWED_CALLERS

    grpc = network_policies.grpc_ports()
    for workload, port in grpc.items():
        callers = {caller for method, allowed in ALLOWED_CALLERS.items()
                   if network_policies.SERVED_BY.get(method.split("/")[1]) == workload for caller in allowed}
        opened = grpc_peers(policy(workload)["spec"]["ingress"], "from")
        assert opened == {port: callers}, workload
        # and nothing else reaches the gRPC port: every other ingress rule is for another port
        for rule in policy(workload)["spec"]["ingress"]:
            if not pod_names(next(iter(rule.get("from", [{}])), {})):
                assert port not in {p["port"] for p in rule["ports"]}, f"{workload}: gRPC open to everyone"


def test_the_gateway_alone_is_reachable_from_outside_and_metrics_only_from_monitoring():
    for workload in network_policies.WORKLOADS:
        for rule in policy(workload)["spec"]["ingress"]:
            ports = {p["port"] for p in rule["ports"]}
            if "from" not in rule:  # from anywhere: only the gateway's HTTP port and the kubelet's health probes
                expected = {8080} if workload == "gateway" else {network_policies.metrics_ports()[f"{workload}:health"]}
                assert ports == expected, workload
            elif ports == {network_policies.metrics_ports()[workload]}:
                [peer] = rule["from"]
                assert peer["namespaceSelector"]["matchLabels"] == {
                    "kubernetes.io/metadata.name": network_policies.MONITORING_NAMESPACE}


def test_the_setup_job_may_reach_the_rabbitmq_management_api_the_configmap_names():
    """`postmanctl setup` sets the queue policies through the management API (RABBITMQ_MANAGEMENT_URL), TLS or not."""
    configmap = yaml.safe_load((ROOT / "deploy" / "k8s" / "configmap.yaml").read_text())
    url = urlsplit(configmap["data"]["RABBITMQ_MANAGEMENT_URL"])
    egress = policy(network_policies.SETUP_JOB)["spec"]["egress"]
    ports = {port["port"] for rule in egress for port in rule.get("ports", [])}
    assert {url.port or {"https": 443, "http": 80}[url.scheme], 15671, 15672} <= ports


def test_every_service_keeps_a_pod_through_a_drain():
    budgets = {doc["metadata"]["name"]: doc for doc in
               yaml.safe_load_all((ROOT / "deploy" / "k8s" / "disruption-budgets.yaml").read_text()) if doc}
    for workload in network_policies.WORKLOADS:
        deployment = next(doc for doc in yaml.safe_load_all((ROOT / "deploy" / "k8s" / f"{workload}.yaml").read_text())
                          if doc and doc["kind"] == "Deployment")
        budget = budgets[workload]["spec"]
        assert budget["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"], workload
        assert budget["maxUnavailable"] < deployment["spec"]["replicas"], f"{workload}: a drain could stop it"


def test_every_service_spreads_its_pods_over_zones_and_nodes():
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not on PATH"
    result = subprocess.run([kubectl, "kustomize", str(ROOT / "deploy" / "k8s")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    deployments = [doc for doc in yaml.safe_load_all(result.stdout) if doc and doc["kind"] == "Deployment"]
    assert {doc["metadata"]["name"] for doc in deployments} == set(network_policies.WORKLOADS)
    for deployment in deployments:
        template = deployment["spec"]["template"]
        constraints = template["spec"]["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in constraints} == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        for constraint in constraints:
            # the selector plus the pod's own name label must pick exactly this Deployment's pods
            selected = constraint["labelSelector"]["matchLabels"] | {
                key: template["metadata"]["labels"][key] for key in constraint["matchLabelKeys"]}
            assert selected.items() <= template["metadata"]["labels"].items()
            assert selected[network_policies.NAME_LABEL] == deployment["metadata"]["name"]


def test_no_pod_is_killed_before_its_service_has_stopped():
    from postman_shared.runtime import GRPC_GRACE_SECONDS, STOP_THREADS_SECONDS

    config = yaml.safe_load((ROOT / "deploy" / "k8s" / "configmap.yaml").read_text())["data"]
    # a batch stuck on a provider call ends within SMTP_TIMEOUT, inside the threads' budget
    assert STOP_THREADS_SECONDS >= int(config["SMTP_TIMEOUT"])
    for workload in network_policies.WORKLOADS:
        if workload == "gateway":
            continue  # waitress, not the runtime: probed on /v1/ping, 5 s preStop and 10 s to finish requests
        deployment = next(doc for doc in yaml.safe_load_all((ROOT / "deploy" / "k8s" / f"{workload}.yaml").read_text())
                          if doc and doc["kind"] == "Deployment")
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace >= STOP_THREADS_SECONDS + GRPC_GRACE_SECONDS + 10, f"{workload}: {grace} s"

"""Writes deploy/k8s/network-policies.yaml from the code's own call graph.

Default deny, in and out, for every pod of the namespace; then, per workload, exactly what it needs: its gRPC port
opened to the services that call it (the caller table of ``postman_shared.grpc.authorization``, the one the servers
enforce with mutual TLS), its metrics port to Prometheus, its plaintext health port to the kubelet's probes, and on
the way out DNS, the gRPC ports of the services it calls, and the stores and providers it talks to. Generated rather
than written by hand so that a new RPC or caller changes the network policies in the same commit
(tests/deploy/test_resilience.py fails until this is rerun):

    .venv/bin/python tools/network_policies.py
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "deploy" / "k8s" / "network-policies.yaml"
CONFIGMAP = ROOT / "deploy" / "k8s" / "configmap.yaml"
NAMESPACE = "postman"
NAME_LABEL = "app.kubernetes.io/name"

# The gRPC service (proto) -> the workload serving it.
SERVED_BY = {
    "postman.v1.AuthService": "auth",
    "postman.v1.CampaignService": "campaign",
    "postman.v1.SuppressionService": "campaign",
    "postman.v1.RendererService": "renderer",
    "postman.v1.StatsService": "stats",
    "postman.v1.ClientWebhookService": "stats",
    "postman.v1.SmsSenderService": "sender-sms",
    "postman.v1.TransactionalSmsService": "sender-sms",
    "postman.v1.TelegramSenderService": "sender-telegram",
    "postman.v1.TransactionalEmailService": "sender-email",
}
# The *_ADDR setting giving each serving workload's gRPC port.
ADDRESS_SETTING = {"auth": "AUTH_ADDR", "campaign": "CAMPAIGN_ADDR", "renderer": "RENDERER_ADDR",
                   "stats": "STATS_ADDR", "sender-sms": "SMS_SENDER_ADDR", "sender-telegram": "TELEGRAM_SENDER_ADDR",
                   "sender-email": "EMAIL_SENDER_ADDR"}
WORKLOADS = ("gateway", "auth", "campaign", "renderer", "stats", "sender-email", "sender-sms", "sender-telegram")
# postmanctl's gRPC commands (suppression, disable-user) run in a pod labelled app.kubernetes.io/name=postmanctl
# that mounts its certificate (deploy/k8s/README.md); the setup Job only reaches the stores.
POSTMANCTL = "postmanctl"
SETUP_JOB = "postman-setup"

# The stores and their ports, and which of them each workload's code uses (tests/deploy/test_store_overlays.py checks
# this against the settings each one reads: DATABASE_URL, AMQP_URL, REDIS_URL). A workload may reach only its own.
STORES = {"PostgreSQL": [5432], "RabbitMQ (AMQP, AMQPS)": [5672, 5671], "Redis": [6379]}
POSTGRES, RABBITMQ, REDIS = STORES
STORES_USED = {
    "gateway": {RABBITMQ, REDIS},
    "auth": {POSTGRES, RABBITMQ},
    "campaign": {POSTGRES, RABBITMQ},
    "renderer": {POSTGRES, RABBITMQ},
    "stats": {POSTGRES, RABBITMQ},
    "sender-email": {POSTGRES, RABBITMQ},
    "sender-sms": {POSTGRES, RABBITMQ, REDIS},
    "sender-telegram": {POSTGRES, RABBITMQ, REDIS},
    POSTMANCTL: {POSTGRES, RABBITMQ},
    SETUP_JOB: {POSTGRES, RABBITMQ},
}
PROVIDERS = {
    "gateway": {"HTTPS: SNS signing certificates": [443]},
    "auth": {"HTTPS: SES identities": [443], "DNS: DKIM records (DNS_NAMESERVER)": [53]},
    "campaign": {"HTTPS: S3, KMS": [443]},
    "renderer": {},
    "stats": {"HTTPS: client webhooks (public addresses only: checked in stats), KMS": [443]},
    "sender-email": {"HTTPS: SES, S3": [443], "SMTP relay": [25, 465, 587], "IMAPS: the bounce mailbox": [993]},
    "sender-sms": {"HTTPS: Twilio, KMS": [443]},
    "sender-telegram": {"HTTPS: Telegram Bot API, KMS": [443]},
    POSTMANCTL: {"HTTPS: SES (check-domain)": [443], "DNS: check-domain": [53]},
}
# Where Prometheus runs (a placeholder, like the Ingress host: set it to your monitoring namespace).
MONITORING_NAMESPACE = "monitoring"


def call_graph() -> dict[str, set[str]]:
    """Serving workload -> the workloads (and postmanctl) allowed to call it, from the servers' own table."""
    sys.path.insert(0, str(ROOT / "lib"))
    from postman_shared.grpc.authorization import ALLOWED_CALLERS

    callers: dict[str, set[str]] = defaultdict(set)
    for method, allowed in ALLOWED_CALLERS.items():
        service = method.split("/")[1]
        if service == "grpc.health.v1.Health":
            continue  # probes use the plaintext health port; services never need each other's health
        callers[SERVED_BY[service]] |= set(allowed)
    return callers


def grpc_ports() -> dict[str, int]:
    config = yaml.safe_load(CONFIGMAP.read_text())["data"]
    return {workload: int(config[setting].rsplit(":", 1)[1]) for workload, setting in ADDRESS_SETTING.items()}


def metrics_ports() -> dict[str, int]:
    sys.path.insert(0, str(ROOT / "lib"))
    from postman_shared.metrics import DEFAULT_METRICS_PORTS, health_port

    return {w: DEFAULT_METRICS_PORTS[w] for w in WORKLOADS} | {f"{w}:health": health_port(w, -1) for w in WORKLOADS}


def _pods(names: set[str] | list[str]) -> dict[str, Any]:
    return {"podSelector": {"matchExpressions": [{"key": NAME_LABEL, "operator": "In", "values": sorted(names)}]}}


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def _dns() -> dict[str, Any]:
    return {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}


def _calls(served: set[str], grpc: dict[str, int]) -> list[dict[str, Any]]:
    return [{"to": [_pods([name])], "ports": _tcp(grpc[name])} for name in sorted(served)]


def _outside(workload: str) -> dict[str, Any]:
    ports = sorted({p for store in STORES_USED[workload] for p in STORES[store]}
                   | {p for ports in PROVIDERS[workload].values() for p in ports})
    return {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": _tcp(*ports)}


def _policy(name: str, pod: str, ingress: list[dict[str, Any]], egress: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": NAMESPACE,
                         "labels": {NAME_LABEL: pod, "app.kubernetes.io/part-of": "postman"}},
            "spec": {"podSelector": {"matchLabels": {NAME_LABEL: pod}}, "policyTypes": ["Ingress", "Egress"],
                     "ingress": ingress, "egress": egress}}


def policies() -> list[dict[str, Any]]:
    callers = call_graph()
    grpc = grpc_ports()
    metrics = metrics_ports()
    calls: dict[str, set[str]] = defaultdict(set)  # caller -> the serving workloads it calls
    for served, names in callers.items():
        for caller in names:
            calls[caller].add(served)
    scrape = {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}}}]}
    documents: list[dict[str, Any]] = [{
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny", "namespace": NAMESPACE,
                     "labels": {"app.kubernetes.io/part-of": "postman"}},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}]
    for workload in WORKLOADS:
        ingress: list[dict[str, Any]] = []
        if workload == "gateway":
            ingress.append({"ports": _tcp(8080)})  # the public HTTP port, behind the Ingress controller
        if workload in callers:
            ingress.append({"from": [_pods(callers[workload])], "ports": _tcp(grpc[workload])})
        ingress.append(scrape | {"ports": _tcp(metrics[workload])})
        if workload != "gateway":  # the kubelet's probes (the gateway's probe is its HTTP port)
            ingress.append({"ports": _tcp(metrics[f"{workload}:health"])})
        egress = [_dns(), *_calls(calls[workload], grpc), _outside(workload)]
        documents.append(_policy(workload, workload, ingress, egress))
    documents.append(_policy(POSTMANCTL, POSTMANCTL, [], [_dns(), *_calls(calls[POSTMANCTL], grpc),
                                                         _outside(POSTMANCTL)]))
    # The setup Job also sets the queue policies through RabbitMQ's management API (15671 with TLS, else 15672).
    documents.append(_policy(SETUP_JOB, SETUP_JOB, [], [
        _dns(), {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": _tcp(5432, 5671, 5672, 15671, 15672)}]))
    return documents


HEADER = """\
# Generated by tools/network_policies.py from the services' caller table (postman_shared.grpc.authorization): do not
# edit by hand; rerun it. Default deny in and out, then per workload: its gRPC port to the services that call it,
# /metrics to Prometheus (namespace "monitoring": change it to yours), the health port to the kubelet's probes, and
# out: DNS, the gRPC ports it calls, the stores its code uses (PostgreSQL 5432, RabbitMQ 5671/5672, Redis 6379) and its
# providers. Egress to the stores and providers is by port, to any address (they live outside the namespace, often
# outside the cluster); narrow the ipBlock to your networks where you can. In-cluster stores: deploy/stores.
"""


def render() -> str:
    return HEADER + "".join("---\n" + yaml.safe_dump(doc, sort_keys=False) for doc in policies())


# In-cluster stores (deploy/stores/<folder>, kustomize components): they run in their own namespace, so each
# component adds policies letting exactly the workloads that use the store reach its pods there. Egress by pod, not
# only by port: CNIs differ on whether an ipBlock of 0.0.0.0/0 matches the cluster's own pods.
STORES_NAMESPACE = "postman-stores"
IN_CLUSTER = {  # store -> (component folder, labels of the pods clients connect to, ports)
    POSTGRES: ("postgres", {"cnpg.io/poolerName": "postman-db-pooler"}, [5432]),
    RABBITMQ: ("rabbitmq", {NAME_LABEL: "postman-rabbitmq"}, [5672]),
    REDIS: ("redis", {NAME_LABEL: "redis"}, [6379]),
}
RABBITMQ_MANAGEMENT_PORT = 15672  # the setup Job sets the queue policies through RabbitMQ's management API


def store_output(store: str) -> Path:
    return ROOT / "deploy" / "stores" / IN_CLUSTER[store][0] / "network-policies.yaml"


def _labels(name: str) -> dict[str, str]:
    return {NAME_LABEL: name, "app.kubernetes.io/part-of": "postman"}


def _egress_policy(name: str, clients: list[str], pods: dict[str, str], ports: list[int]) -> dict[str, Any]:
    to = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": STORES_NAMESPACE}},
          "podSelector": {"matchLabels": pods}}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": _labels(name)},
            "spec": {**_pods(clients), "policyTypes": ["Egress"], "egress": [{"to": [to], "ports": _tcp(*ports)}]}}


def store_policies(store: str) -> list[dict[str, Any]]:
    folder, pods, ports = IN_CLUSTER[store]
    clients = sorted(name for name, used in STORES_USED.items() if store in used)
    documents = [_egress_policy(f"{folder}-clients", clients, pods, ports)]
    if store == RABBITMQ:
        documents.append(_egress_policy("rabbitmq-management", [SETUP_JOB], pods, [RABBITMQ_MANAGEMENT_PORT]))
    if store == REDIS:  # a Deployment of ours, not an operator's: it accepts its clients and opens nothing
        documents.append({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "redis", "namespace": STORES_NAMESPACE, "labels": _labels("redis")},
            "spec": {"podSelector": {"matchLabels": pods}, "policyTypes": ["Ingress", "Egress"],
                     "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                         "kubernetes.io/metadata.name": NAMESPACE}}, **_pods(clients)}], "ports": _tcp(*ports)}],
                     "egress": []}})
    return documents


STORE_HEADER = """\
# Generated by tools/network_policies.py (STORES_USED, IN_CLUSTER): do not edit by hand; rerun it. The workloads of
# the namespace postman that use this store may open connections to its pods in the namespace postman-stores, on
# its client ports; the base policies (deploy/k8s/network-policies.yaml) deny everything else.
"""


def render_store(store: str) -> str:
    return STORE_HEADER + "".join("---\n" + yaml.safe_dump(doc, sort_keys=False) for doc in store_policies(store))


def main() -> None:
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    for store in IN_CLUSTER:
        store_output(store).write_text(render_store(store))
        print(f"wrote {store_output(store).relative_to(ROOT)}")


if __name__ == "__main__":
    main()

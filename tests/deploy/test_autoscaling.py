"""Per-channel autoscaling (deploy/keda): each sender, and the renderer, scales on the depth of the queue it really
consumes, with room to start at least its current replicas and a minimum that keeps its gRPC and priority work
served; KEDA reads RabbitMQ with the Secret key every workload already uses."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from postman_shared.broker import topology

ROOT = Path(__file__).resolve().parents[2]
KEDA = ROOT / "deploy" / "keda"
SECRET_EXAMPLE = ROOT / "deploy" / "k8s" / "secret.example.yaml"

# The queue that carries each scaled workload's backlog, and the topology constant its bootstrap consumes.
SCALED_ON = {
    "renderer": "CAMPAIGN_SEND",
    "sender-email": "EMAIL_SEND",
    "sender-sms": "SMS_SEND",
    "sender-telegram": "TELEGRAM_SEND",
}


@cache
def rendered() -> tuple[dict[str, Any], ...]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not on PATH: these tests render deploy/keda with `kubectl kustomize`"
    result = subprocess.run([kubectl, "kustomize", str(KEDA)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"kubectl kustomize deploy/keda failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in rendered() if doc["kind"] == kind}


def test_every_channel_and_the_renderer_scale_on_the_queue_they_consume():
    scaled = of_kind("ScaledObject")
    assert set(scaled) == set(SCALED_ON)
    for name, constant in SCALED_ON.items():
        [trigger] = scaled[name]["spec"]["triggers"]
        assert trigger["type"] == "rabbitmq" and trigger["metadata"]["mode"] == "QueueLength", name
        assert trigger["metadata"]["queueName"] == getattr(topology, constant), name
        bootstrap = (ROOT / "services" / name / f"postman_{name.replace('-', '_')}" / "bootstrap.py").read_text()
        assert f"settings.amqp_url, {constant}," in bootstrap, f"{name} does not consume {constant}"
        assert float(trigger["metadata"]["value"]) >= 1, name


def test_each_scaled_object_targets_a_deployment_of_the_base_within_sane_bounds():
    deployments = of_kind("Deployment")
    for name, scaled in of_kind("ScaledObject").items():
        spec = scaled["spec"]
        assert spec["scaleTargetRef"]["name"] == name and name in deployments
        assert scaled["metadata"]["namespace"] == deployments[name]["metadata"]["namespace"]
        # Senders also serve gRPC (test sends, transactional messages) and sender-email the one-time passwords:
        # never scaled to zero, and never below what the base runs.
        assert spec["minReplicaCount"] >= max(2, deployments[name]["spec"]["replicas"]), name
        assert spec["maxReplicaCount"] > spec["minReplicaCount"], name
        assert spec["cooldownPeriod"] >= 60, f"{name} would flap"


def test_keda_reads_rabbitmq_with_the_secret_key_the_workloads_use():
    [auth] = of_kind("TriggerAuthentication").values()
    [ref] = auth["spec"]["secretTargetRef"]
    secret = yaml.safe_load(SECRET_EXAMPLE.read_text())
    assert ref["parameter"] == "host" and ref["name"] == secret["metadata"]["name"]
    assert ref["key"] == "AMQP_URL" and "AMQP_URL" in secret["stringData"]
    for scaled in of_kind("ScaledObject").values():
        assert scaled["spec"]["triggers"][0]["authenticationRef"]["name"] == auth["metadata"]["name"]


def test_the_keda_variant_is_the_whole_base_plus_the_autoscalers():
    base = {(doc["kind"], doc["metadata"]["name"]) for doc in rendered()
            if doc["kind"] not in ("ScaledObject", "TriggerAuthentication")}
    kubectl = shutil.which("kubectl")
    assert kubectl
    result = subprocess.run([kubectl, "kustomize", str(ROOT / "deploy" / "k8s")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert base == {(doc["kind"], doc["metadata"]["name"]) for doc in yaml.safe_load_all(result.stdout) if doc}


def test_a_full_render_window_asks_for_every_sender_pod_and_an_empty_queue_for_the_minimum():
    """The renderer holds a sender queue's depth at RENDER_WINDOW at most (flow control), so a per-pod backlog larger
    than window / maximum would never scale a sender to its maximum: with 20,000 per pod and a 2,000 window, a big
    campaign ran on the minimum pods."""
    [config] = [doc for doc in rendered() if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "postman-config"]
    # The window is in rendered messages; the queue's depth in queue messages, each a batch of RENDERED_PER_MESSAGE.
    window = int(config["data"]["RENDER_WINDOW"]) // int(config["data"]["RENDERED_PER_MESSAGE"])
    assert window > 0
    for name, scaled in of_kind("ScaledObject").items():
        if name == "renderer":
            continue  # campaign.send holds one message per job in progress, not rendered messages
        [trigger] = scaled["spec"]["triggers"]
        per_pod = float(trigger["metadata"]["value"])
        maximum, minimum = scaled["spec"]["maxReplicaCount"], scaled["spec"]["minReplicaCount"]
        assert -(-window // per_pod) >= maximum, f"{name}: a full window asks for fewer than {maximum} pods"
        assert -(-(window // 2) // per_pod) > minimum, f"{name}: a half-full window does not add a pod"

"""The alerting rules are valid, do what their unit tests say, watch only metrics that exist, and reach SREs with a
runbook; the Prometheus Operator's copy of them and the PodMonitor agree with the rule file and the manifests.

promtool (Debian package ``prometheus``) checks and unit-tests the rule file; without it these tests fail, saying how
to install it (``make promtool``), rather than pass unchecked.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from postman_shared.broker.topology import DEAD_LETTER_QUEUE, EMAIL_PRIORITY, QUEUE_CONSUMERS
from tests.support.promql import defined_metric_names, family, metric_names, promtool
from tools.render_prometheus_rule import render

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yaml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "rules.test.yaml"
K8S = ROOT / "deploy" / "k8s"
MONITORING = K8S / "monitoring"
RUNBOOKS = ROOT / "docs" / "runbooks"
SERVICE_FOLDERS = sorted(
    p.name for p in (ROOT / "services").iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
)

# Metrics the rules may use that no Postman service exports: Prometheus's own `up`, and RabbitMQ's Prometheus plugin
# (rabbitmq_prometheus, endpoint /metrics/detailed, families queue_coarse_metrics and queue_consumer_count).
EXTERNAL_METRICS = {
    "up": "Prometheus: 1 when the target's last scrape succeeded",
    "rabbitmq_detailed_queue_messages": "RabbitMQ: messages in a queue (ready and unacknowledged)",
    "rabbitmq_detailed_queue_messages_ready": "RabbitMQ: messages ready to be delivered",
    "rabbitmq_detailed_queue_consumers": "RabbitMQ: consumers of a queue",
}

def is_known(name: str, defined: set[str]) -> bool:
    return family(name) in defined or name in EXTERNAL_METRICS


# --- reading the files ------------------------------------------------------------------------------------------------

@cache
def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(RULES.read_text())["groups"]
    return groups


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def alert_names() -> list[str]:
    return sorted({rule["alert"] for rule in alert_rules()})


def regex_alternatives(expr: str, label: str) -> list[set[str]]:
    """The values of every ``label=~"a|b|c"`` matcher in the expression."""
    return [set(values.split("|")) for values in re.findall(rf'\b{label}=~"([^"]*)"', expr)]


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


# --- promtool ---------------------------------------------------------------------------------------------------------

def test_promtool_accepts_the_rule_file() -> None:
    result = run_promtool("check", "rules", str(RULES.relative_to(ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {sum(len(group['rules']) for group in rule_groups())} rules found" in result.stdout


def test_the_rules_unit_tests_pass() -> None:
    result = run_promtool("test", "rules", str(RULE_TESTS.relative_to(ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_unit_tests_would_catch_a_rule_that_never_fires(tmp_path: Path) -> None:
    # The same tests against rules whose thresholds cannot be reached must fail: they really assert firing.
    impossible = RULES.read_text().replace("> 0", "> 1e18").replace("== 0", "== 1e18")
    (tmp_path / "rules.yaml").write_text(impossible)
    (tmp_path / "rules.test.yaml").write_text(RULE_TESTS.read_text())
    result = subprocess.run([promtool(), "test", "rules", "rules.test.yaml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode != 0, result.stdout


def test_every_alert_has_a_unit_test_that_fires_it_and_one_that_does_not() -> None:
    fired: set[str] = set()
    silent: set[str] = set()
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else silent).add(check["alertname"])
    assert set(alert_names()) - fired == set(), "alerts never shown to fire in rules.test.yaml"
    assert set(alert_names()) - silent == set(), "alerts never shown to stay silent in rules.test.yaml"


# --- each alert reaches a person who knows what to do -----------------------------------------------------------------

@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_has_a_severity_a_summary_a_description_and_a_runbook(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in {"warning", "critical"}
    annotations = rule["annotations"]
    assert annotations["summary"].strip() and annotations["description"].strip()
    assert annotations["runbook_url"] == f"docs/runbooks/{rule['alert']}.md"
    page = (ROOT / annotations["runbook_url"]).read_text()
    for section in ("**What it means.**", "**How to check.**", "**What to do.**"):
        assert section in page, f"{annotations['runbook_url']} lacks {section}"


def test_the_runbook_index_lists_every_alert_and_no_alert_page_is_left_over() -> None:
    # Alert pages are named after their alert (Postman...); other pages there are operating procedures.
    pages = {path.stem for path in RUNBOOKS.glob("Postman*.md")}
    assert pages == set(alert_names())
    index = (RUNBOOKS / "README.md").read_text()
    assert all(f"({name}.md)" in index for name in alert_names())


# --- only metrics that exist ------------------------------------------------------------------------------------------

def test_the_metric_finder_sees_names_without_selectors_and_skips_labels_and_functions() -> None:
    expr = ('max by (job) (up == 0) / on (queue) group_left sum(rate(a_total{x="y"}[5m] offset 1h))'
            ' unless histogram_quantile(0.9, b_seconds_bucket) > bool c')
    assert metric_names(expr) == {"up", "a_total", "b_seconds_bucket", "c"}


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_reads_only_metrics_the_code_exports_or_the_allow_list_names(rule: dict[str, Any]) -> None:
    used = metric_names(rule["expr"])
    assert used, f"no metric found in {rule['expr']!r}"
    unknown = {name for name in used if not is_known(name, defined_metric_names())}
    assert not unknown, f"{rule['alert']} reads {unknown}, which no service exports and EXTERNAL_METRICS does not name"


def test_every_external_metric_allowed_is_used_by_a_rule() -> None:
    used = set().union(*(metric_names(rule["expr"]) for rule in alert_rules()))
    assert set(EXTERNAL_METRICS) - used == set(), "stale entries in EXTERNAL_METRICS"


# --- the rules name the queues and services that exist ----------------------------------------------------------------

def test_the_queue_alerts_watch_every_work_queue_and_only_those() -> None:
    lists = [values for rule in alert_rules() for values in regex_alternatives(rule["expr"], "queue")]
    assert lists, "no queue=~ matcher found"
    for values in lists:
        assert values == set(QUEUE_CONSUMERS), "queue lists in rules.yaml differ from topology.QUEUE_CONSUMERS"
    exprs = " ".join(rule["expr"] for rule in alert_rules())
    assert f'queue="{DEAD_LETTER_QUEUE}"' in exprs and f'queue="{EMAIL_PRIORITY}"' in exprs


def test_the_target_alerts_watch_every_service() -> None:
    lists = [values for rule in alert_rules() for values in regex_alternatives(rule["expr"], "job")]
    assert lists, "no job=~ matcher found"
    for values in lists:
        assert values == set(SERVICE_FOLDERS)


# --- Kubernetes: PrometheusRule and PodMonitor ------------------------------------------------------------------------

def monitoring_documents() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to render deploy/k8s/monitoring"
    result = subprocess.run([kubectl, "kustomize", str(MONITORING)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_the_prometheus_rule_is_generated_from_the_rule_file() -> None:
    assert (MONITORING / "prometheusrule.yaml").read_text() == render(RULES.read_text()), (
        "deploy/k8s/monitoring/prometheusrule.yaml is out of date: run tools/render_prometheus_rule.py")


def test_the_monitoring_kustomization_renders_the_same_rules_and_a_pod_monitor() -> None:
    # (and the Grafana dashboard's ConfigMap: tests/deploy/test_grafana_sidecar.py checks it)
    documents = {doc["kind"]: doc for doc in monitoring_documents()}
    assert set(documents) == {"PrometheusRule", "PodMonitor", "ConfigMap"}
    assert documents["PrometheusRule"]["spec"]["groups"] == rule_groups()
    assert all(doc["metadata"]["namespace"] == "postman" for doc in documents.values())


def scraped_deployments() -> list[dict[str, Any]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "Deployment":
                annotations = doc["spec"]["template"]["metadata"].get("annotations", {})
                if annotations.get("prometheus.io/scrape") == "true":
                    found.append(doc)
    return found


def test_the_pod_monitor_scrapes_every_service_on_its_metrics_port_with_its_name_as_job() -> None:
    monitor = next(doc for doc in monitoring_documents() if doc["kind"] == "PodMonitor")["spec"]
    [endpoint] = monitor["podMetricsEndpoints"]
    deployments = scraped_deployments()
    assert sorted(doc["metadata"]["name"] for doc in deployments) == SERVICE_FOLDERS
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        template = deployment["spec"]["template"]
        labels = template["metadata"]["labels"]
        assert monitor["selector"]["matchLabels"].items() <= labels.items(), f"the PodMonitor does not select {name}"
        assert labels[monitor["jobLabel"]] == name, f"{name}'s pods would not be scraped with job={name}"
        ports = {port.get("name"): port["containerPort"] for container in template["spec"]["containers"]
                 for port in container.get("ports", [])}
        assert endpoint["port"] in ports, f"{name} has no container port named {endpoint['port']!r}"
        annotated = int(template["metadata"]["annotations"]["prometheus.io/port"])
        assert ports[endpoint["port"]] == annotated, f"{name}: the PodMonitor and the annotations scrape other ports"

"""The Grafana dashboard is what tools/render_dashboard.py writes, shows every metric the services export and only
metrics that exist, stays inside one installation (``$namespace``, ``$vhost``), gives each channel its rate, errors,
latency, queue depth and consumers, and lays its panels out on Grafana's grid. (tests/deploy/test_grafana_sidecar.py:
promtool parses every expression, and kustomize ships the dashboard as the Grafana sidecar's ConfigMap.)"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from postman_shared.broker.topology import (
    DEAD_LETTER_QUEUE,
    EMAIL_SEND,
    QUEUE_CONSUMERS,
    SMS_SEND,
    TELEGRAM_SEND,
    WAIT_QUEUES,
)
from tests.support.promql import defined_metric_names, family, metric_names
from tools.render_dashboard import DASHBOARD, SIDECAR_COPY, render

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yaml"
SERVICE_FOLDERS = sorted(
    p.name for p in (ROOT / "services").iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
GRID_WIDTH = 24

# Metrics the dashboard may read that no Postman service exports.
EXTERNAL_METRICS = {
    "up": "Prometheus: 1 when the target's last scrape succeeded",
    "rabbitmq_detailed_queue_messages": "RabbitMQ (rabbitmq_prometheus, queue_coarse_metrics): messages in a queue",
    "rabbitmq_detailed_queue_messages_ready": "RabbitMQ: messages ready to be delivered",
    "rabbitmq_detailed_queue_messages_unacked": "RabbitMQ: messages delivered, not yet acknowledged",
    "rabbitmq_detailed_queue_consumers": "RabbitMQ (queue_consumer_count): consumers of a queue",
    "container_cpu_usage_seconds_total": "kubelet (cAdvisor): CPU seconds used by a container",
    "container_memory_working_set_bytes": "kubelet (cAdvisor): memory counted against a container's limit",
    "kube_pod_container_status_restarts_total": "kube-state-metrics: restarts of a container",
}
RABBITMQ = re.compile(r"^rabbitmq_")
# Each campaign channel's row, with the queue its sender consumes to send and the family counting its messages.
CHANNEL_ROWS = {
    "Email": (EMAIL_SEND, "postman_email_messages_total"),
    "SMS": (SMS_SEND, "postman_sms_messages_total"),
    "Telegram": (TELEGRAM_SEND, "postman_telegram_messages_total"),
}
ROWS = ["Overview", *CHANNEL_ROWS, "Transactional", "Receipts", "Renderer, stats and owner notices", "Security",
        "Runtime"]


# --- reading the dashboard --------------------------------------------------------------------------------------------

@cache
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def expressions(panel_list: list[dict[str, Any]] | None = None) -> list[str]:
    return [target["expr"] for panel in (panels() if panel_list is None else panel_list)
            for target in panel["targets"]]


def rows() -> dict[str, list[dict[str, Any]]]:
    """Each row's title and the panels that follow it, up to the next row."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    current: list[dict[str, Any]] | None = None
    for panel in dashboard()["panels"]:
        if panel["type"] == "row":
            current = grouped.setdefault(panel["title"], [])
        else:
            assert current is not None, f"panel {panel['title']!r} sits above the first row"
            current.append(panel)
    return grouped


def selectors(expr: str, metric: str) -> list[str]:
    """The label matchers of every occurrence of ``metric`` in the expression ('' when it has none)."""
    return [match.group(1) or "" for match in re.finditer(rf"(?<![\w:]){re.escape(metric)}(?![\w:])(\{{[^}}]*\}})?",
                                                         expr)]


def queues_matched(matchers: str) -> set[str]:
    """The queues a selector's ``queue="a"`` or ``queue=~"a|b"`` matcher names."""
    found = re.search(r'\bqueue(=~?)"([^"]*)"', matchers)
    return set(found.group(2).split("|")) if found else set()


def queues_read(metric: str, panel_list: list[dict[str, Any]] | None = None) -> set[str]:
    return {queue for expr in expressions(panel_list) for matchers in selectors(expr, metric)
            for queue in queues_matched(matchers)}


def is_known(name: str, defined: set[str]) -> bool:
    return family(name) in defined or name in EXTERNAL_METRICS


# --- generated, and the same everywhere -------------------------------------------------------------------------------

def test_the_dashboard_and_its_sidecar_copy_are_what_the_generator_writes() -> None:
    wanted = render()
    assert DASHBOARD.read_text() == wanted, "deploy/grafana/postman-overview.json is out of date: run " \
                                            "tools/render_dashboard.py"
    assert SIDECAR_COPY.read_text() == wanted, f"{SIDECAR_COPY} is out of date: run tools/render_dashboard.py"


def test_the_dashboard_keeps_its_uid_so_installs_update_in_place() -> None:
    assert dashboard()["uid"] == "postman-overview"
    assert dashboard()["schemaVersion"] >= 39


# --- only metrics that exist, and every one of them -------------------------------------------------------------------

def test_the_metric_finder_sees_the_shared_and_service_metrics() -> None:
    assert {"gateway_requests_total", "postman_queue_messages_total", "postman_email_messages_total",
            "postman_jobs"} <= defined_metric_names()


def test_every_panel_queries_a_metric_the_code_defines_or_the_allow_list_names() -> None:
    defined = defined_metric_names()
    for panel in panels():
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for expr in expressions([panel]):
            used = metric_names(expr)
            assert used, f"no metric found in {expr!r}"
            unknown = {name for name in used if not is_known(name, defined)}
            assert not unknown, f"panel {panel['title']!r} queries {unknown}: no service exports it, nor is it " \
                                "in EXTERNAL_METRICS"


def test_every_metric_the_code_exports_is_on_the_dashboard() -> None:
    shown = {family(name) for expr in expressions() for name in metric_names(expr)}
    missing = defined_metric_names() - shown
    assert not missing, f"no panel shows {sorted(missing)}: add them in tools/render_dashboard.py"


def test_every_external_metric_allowed_is_used() -> None:
    used = set().union(*(metric_names(expr) for expr in expressions()))
    assert set(EXTERNAL_METRICS) - used == set(), "stale entries in EXTERNAL_METRICS"


def test_the_variables_come_from_metrics_that_exist() -> None:
    variables = {variable["name"]: variable for variable in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    namespace = re.fullmatch(r"label_values\((\w+), namespace\)", variables["namespace"]["query"])
    assert namespace and namespace.group(1) in defined_metric_names()
    vhost = re.fullmatch(r"label_values\((\w+)\{.*\}, vhost\)", variables["vhost"]["query"])
    assert vhost and vhost.group(1) in EXTERNAL_METRICS


# --- one installation at a time ---------------------------------------------------------------------------------------

def test_every_selector_is_filtered_by_the_namespace_or_for_rabbitmq_by_the_vhost() -> None:
    for expr in expressions():
        for name in metric_names(expr):
            wanted = 'vhost="$vhost"' if RABBITMQ.match(name) else 'namespace="$namespace"'
            for matchers in selectors(expr, name):
                assert wanted in matchers, f"{name} without {wanted} in {expr!r}"


def test_the_selector_finder_sees_a_bare_metric() -> None:
    # A metric written without braces must be reported as unfiltered, not skipped.
    assert selectors('sum(a_total) + b{x="1"} + a_total_other', "a_total") == [""]
    assert selectors('sum(a_total) + b{x="1"}', "b") == ['{x="1"}']


# --- the rows the issue asks for --------------------------------------------------------------------------------------

def test_the_rows_are_there_and_expanded() -> None:
    assert set(ROWS) <= set(rows())
    for row in (panel for panel in dashboard()["panels"] if panel["type"] == "row"):
        assert row["collapsed"] is False and row["panels"] == [], f"row {row['title']!r} hides its panels"
        assert rows()[row["title"]], f"row {row['title']!r} has no panel"


@pytest.mark.parametrize("title", list(CHANNEL_ROWS))
def test_each_channel_row_shows_rate_errors_latency_queue_depth_and_consumers_of_its_queue(title: str) -> None:
    queue, messages = CHANNEL_ROWS[title]
    row = rows()[title]
    exprs = expressions(row)
    assert any(f"rate({messages}{{" in expr and " / " not in expr for expr in exprs), f"{title}: no send rate"
    assert any(f"rate({messages}{{" in expr and 'status="ERROR"' in expr and " / " in expr for expr in exprs), \
        f"{title}: no error ratio"
    latency = [expr for expr in exprs if queue in {q for m in selectors(expr, "postman_queue_batch_seconds_bucket")
                                                   for q in queues_matched(m)}]
    assert {expr.split(",")[0] for expr in latency} >= {"histogram_quantile(0.5", "histogram_quantile(0.95"}, \
        f"{title}: no batch time p50 and p95 of {queue}"
    for metric in ("rabbitmq_detailed_queue_messages_ready", "rabbitmq_detailed_queue_messages_unacked",
                   "rabbitmq_detailed_queue_consumers"):
        assert queue in queues_read(metric, row), f"{title}: no {metric} of {queue}"


def test_every_queue_of_the_topology_has_its_depth_consumers_and_batch_time_shown() -> None:
    assert set(QUEUE_CONSUMERS) | set(WAIT_QUEUES) <= queues_read("rabbitmq_detailed_queue_messages_ready")
    assert set(QUEUE_CONSUMERS) <= queues_read("rabbitmq_detailed_queue_messages_unacked")
    assert set(QUEUE_CONSUMERS) <= queues_read("rabbitmq_detailed_queue_consumers")
    assert set(QUEUE_CONSUMERS) <= queues_read("postman_queue_batch_seconds_bucket")
    assert DEAD_LETTER_QUEUE in queues_read("rabbitmq_detailed_queue_messages", rows()["Overview"])


def test_every_queue_the_dashboard_names_exists() -> None:
    named = set().union(*(queues_matched(matchers) for expr in expressions()
                          for name in metric_names(expr) for matchers in selectors(expr, name)))
    assert named - ({DEAD_LETTER_QUEUE} | set(QUEUE_CONSUMERS) | set(WAIT_QUEUES)) == set()


def test_the_runtime_row_covers_every_service() -> None:
    for expr in expressions(rows()["Runtime"]):
        for values in re.findall(r'\b(?:container|job)=~"([^"]*)"', expr):
            assert sorted(values.split("|")) == SERVICE_FOLDERS, expr
    shown = {name for expr in expressions(rows()["Runtime"]) for name in metric_names(expr)}
    assert {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
            "kube_pod_container_status_restarts_total", "postman_worker_threads_dead"} <= shown


def test_the_alerts_the_descriptions_name_exist() -> None:
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
              if "alert" in rule}
    named = {name for panel in panels() for name in re.findall(r"\bPostman[A-Z]\w+", panel.get("description", ""))}
    assert named and named - alerts == set()


# --- Grafana's grid ---------------------------------------------------------------------------------------------------

def test_panel_ids_are_unique() -> None:
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids))


def test_panels_fit_the_grid_and_never_overlap() -> None:
    boxes = [(panel["title"], panel["gridPos"]) for panel in dashboard()["panels"]]
    for title, box in boxes:
        assert box["x"] >= 0 and box["w"] > 0 and box["x"] + box["w"] <= GRID_WIDTH, f"{title!r} leaves the grid"
    for index, (title, a) in enumerate(boxes):
        for other, b in boxes[index + 1:]:
            apart = (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
                     or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"])
            assert apart, f"{title!r} overlaps {other!r}"

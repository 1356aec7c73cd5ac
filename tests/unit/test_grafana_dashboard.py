"""The Grafana dashboard only queries metrics the services really export."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "postman-overview.json"
METRIC = re.compile(r"\b([a-z_]+?)(?:_bucket|_sum|_count)?\b(?=[{\[])")


def defined_metric_names() -> set[str]:
    names = set()
    for path in [*(ROOT / "lib").rglob("*.py"), *(ROOT / "services").rglob("*.py")]:
        if "/postman/v1/" in str(path):
            continue
        names.update(re.findall(r'(?:Counter|Histogram|Gauge|GaugeMetricFamily)\(\s*"([a-z_]+)"', path.read_text()))
    return names


def test_every_panel_queries_a_metric_the_code_defines():
    defined = defined_metric_names()
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert panels
    for panel in panels:
        for target in panel["targets"]:
            used = set(METRIC.findall(target["expr"])) - {"rate", "increase", "sum", "by", "histogram_quantile"}
            assert used, f"no metric found in {target['expr']!r}"
            unknown = used - defined
            assert not unknown, f"panel {panel['title']!r} queries {unknown}, which no service defines"


def test_the_metric_finder_sees_the_shared_and_service_metrics():
    assert {"gateway_requests_total", "postman_queue_messages_total", "postman_email_messages_total"} \
        <= defined_metric_names()

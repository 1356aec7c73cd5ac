"""The Grafana dashboard as Prometheus and Kubernetes take it: promtool parses every expression (the variables set
to example values), and `kubectl kustomize deploy/k8s/monitoring` ships it, unchanged, in the ConfigMap Grafana's
dashboard sidecar loads. (tests/unit/test_grafana_dashboard.py checks what the panels show.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.support.promql import promtool
from tests.unit.test_grafana_dashboard import dashboard, expressions
from tools.render_dashboard import DASHBOARD, render

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "k8s" / "monitoring"
# kubectl apply (client side) keeps the whole object in an annotation, and annotations may hold 256 KiB in all.
ANNOTATION_LIMIT = 262_144


def substituted(expr: str) -> str:
    """The expression as Grafana sends it, with example values for the variables."""
    return expr.replace("$__rate_interval", "2m").replace("$namespace", "postman").replace("$vhost", "/")


def test_promtool_parses_every_expression_and_variable_query(tmp_path: Path) -> None:
    exprs = [substituted(expr) for expr in expressions()]
    exprs += [re.sub(r"^label_values\((.*), \w+\)$", r"\1", variable["query"])
              for variable in dashboard()["templating"]["list"] if variable["type"] == "query"]
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"alert": f"Expression{index}", "expr": expr} for index, expr in enumerate(exprs)]}]}
    (tmp_path / "dashboard.rules.yaml").write_text(yaml.safe_dump(rules, width=1000))
    result = subprocess.run([promtool(), "check", "rules", "dashboard.rules.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


# --- the Grafana sidecar's ConfigMap ----------------------------------------------------------------------------------

def test_the_monitoring_kustomization_ships_the_dashboard_to_the_grafana_sidecar() -> None:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to render deploy/k8s/monitoring"
    result = subprocess.run([kubectl, "kustomize", str(MONITORING)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    [config_map] = [doc for doc in yaml.safe_load_all(result.stdout) if doc and doc["kind"] == "ConfigMap"]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["name"] == "postman-grafana-dashboard", "a hashed name would leave old copies"
    assert config_map["data"] == {DASHBOARD.name: render()}
    assert len(json.dumps(config_map).encode()) < ANNOTATION_LIMIT, "too big for `kubectl apply`'s last-applied " \
                                                                     "annotation"

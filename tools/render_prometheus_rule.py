"""Writes deploy/k8s/monitoring/prometheusrule.yaml: the Prometheus Operator's PrometheusRule wrapping the groups of
deploy/prometheus/rules.yaml.

Why generated: the plain rule file is what ``promtool check rules`` and ``promtool test rules`` read, and a cluster
with the Prometheus Operator needs the same groups inside a custom resource. Two hand-kept copies would drift, so
the rule file is the source and this script the only writer of the wrapper; tests/deploy/test_alert_rules.py fails
when the wrapper is not what this script writes (run it with ``--check`` to see the same verdict).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "rules.yaml"
WRAPPER = ROOT / "deploy" / "k8s" / "monitoring" / "prometheusrule.yaml"
HEADER = (
    "# GENERATED from deploy/prometheus/rules.yaml by tools/render_prometheus_rule.py: edit the rule file, then run\n"
    "# `.venv/bin/python tools/render_prometheus_rule.py` (tests/deploy/test_alert_rules.py checks they agree).\n"
)


def prometheus_rule(rules_text: str) -> dict[str, Any]:
    """The PrometheusRule resource holding the rule file's groups, unchanged."""
    groups = yaml.safe_load(rules_text)["groups"]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "postman",
            "namespace": "postman",
            "labels": {"app.kubernetes.io/part-of": "postman"},
        },
        "spec": {"groups": groups},
    }


class _ReadableDumper(yaml.SafeDumper):
    """Writes multi-line strings (the expressions) as literal blocks, so the wrapper reads like the rule file."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ReadableDumper.add_representer(str, _string)


def render(rules_text: str) -> str:
    return HEADER + yaml.dump(prometheus_rule(rules_text), Dumper=_ReadableDumper, sort_keys=False, width=120,
                              allow_unicode=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the wrapper is up to date")
    args = parser.parse_args(argv)
    wanted = render(RULES.read_text())
    if args.check:
        if WRAPPER.exists() and WRAPPER.read_text() == wanted:
            return 0
        print(f"{WRAPPER.relative_to(ROOT)} is out of date: run tools/render_prometheus_rule.py", file=sys.stderr)
        return 1
    WRAPPER.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the code exports and what a PromQL expression reads: shared by the dashboard's and the alerting rules' tests,
which both check that they watch only metrics that exist."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_DEFINITION = re.compile(
    r'\b(?:Counter|Histogram|Gauge|Summary|GaugeMetricFamily|CounterMetricFamily)\(\s*"([a-z_:][a-z0-9_:]*)"')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_OFFSET = re.compile(r"\boffset\s+-?\w+")
_IDENTIFIER = re.compile(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left", "group_right", "offset",
             "inf", "nan", "Inf", "NaN"}
_HISTOGRAM_SERIES = re.compile(r"_(?:bucket|sum|count)$")


def defined_metric_names() -> set[str]:
    """Every metric family the services and the shared library define (prometheus_client's classes and custom
    collectors' families), read from the source."""
    names = set()
    for path in [*(ROOT / "lib").rglob("*.py"), *(ROOT / "services").rglob("*.py")]:
        if "/postman/v1/" in str(path):
            continue
        names.update(_DEFINITION.findall(path.read_text()))
    return names


def metric_names(expr: str) -> set[str]:
    """Every metric a PromQL expression reads, whether or not a selector or range follows its name (``up == 0``).

    Strings, label matchers, ranges and label lists are removed first; what is left that is neither a function call
    nor a keyword is a metric name."""
    for pattern in (_STRING, _MATCHERS, _RANGE, _LABEL_LIST, _OFFSET):
        expr = pattern.sub(" ", expr)
    return {name for name in _IDENTIFIER.findall(expr) if name not in _KEYWORDS}


def family(name: str) -> str:
    """The family a series name belongs to: a histogram's ``_bucket``, ``_sum`` and ``_count`` are its own."""
    return _HISTOGRAM_SERIES.sub("", name)


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing, so the expressions cannot be checked: run `make promtool` as root, or "
                    "`apt-get install prometheus` (Debian's package provides /usr/bin/promtool)")
    return path

"""What every benchmark run writes: its figures as JSON in bench/out/<name>.json, next to its Markdown
(bench/out/<name>.md), with the facts needed to read them later: when, which code (the commit, "-dirty" when the
working tree differs from it) and on what machine."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


def commit() -> str:
    """The short commit of HEAD, with "-dirty" when anything (untracked files included) differs from it; "unknown"
    outside a git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = bool(git("status", "--porcelain"))
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def machine() -> dict[str, Any]:
    facts: dict[str, Any] = {"cores": os.cpu_count(), "python": platform.python_version(),
                             "platform": platform.platform(), "load_average_at_start": list(os.getloadavg())}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                facts["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return facts


def run_facts() -> dict[str, Any]:
    """Date (UTC, ISO 8601), commit and machine; take them when the run starts."""
    return {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": commit(), "machine": machine()}


def write_results(name: str, facts: dict[str, Any], figures: dict[str, Any], markdown: str) -> Path:
    """Writes bench/out/<name>.md and bench/out/<name>.json (the facts, then every figure); returns the JSON's
    path."""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.md").write_text(markdown.rstrip("\n") + "\n")
    path = OUT / f"{name}.json"
    path.write_text(json.dumps({"benchmark": figures.get("benchmark", name), **facts, **figures}, indent=2) + "\n")
    return path

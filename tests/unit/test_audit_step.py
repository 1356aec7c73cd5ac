"""CI's dependency audit (tools/audit_dependencies.py, `make audit`): it runs before the tests, a known
vulnerability fails it, and advisory data it cannot reach is said out loud instead of passing silently."""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "audit_dependencies.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def audit_tool() -> ModuleType:
    return load_script()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_ci_audits_the_pinned_requirements_before_the_tests():
    steps = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert "make audit" in steps and "make test" in steps
    assert steps.index("make audit") < steps.index("make test")
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^audit:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "the Makefile has no audit target"
    assert "tools/audit_dependencies.py requirements.txt requirements-dev.txt" in recipe.group(1)
    assert re.search(r"^pip-audit==\S+$", (ROOT / "requirements-dev.txt").read_text(), re.MULTILINE)


def test_the_audit_asks_pypi_about_every_requirement(audit_tool, monkeypatch, tmp_path):
    seen = {}

    def fake_run(command, **kwargs):
        seen["command"] = command
        report = Path(command[command.index("--output") + 1])
        report.write_text('{"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": []}], "fixes": []}')
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(audit_tool.subprocess, "run", fake_run)
    report = audit_tool.run_pip_audit([Path("requirements.txt"), Path("requirements-dev.txt")])
    command = seen["command"]
    assert command[1:3] == ["-m", "pip_audit"]
    assert command[command.index("--vulnerability-service") + 1] == "pypi"
    assert [command[i + 1] for i, part in enumerate(command) if part == "--requirement"] == [
        "requirements.txt", "requirements-dev.txt"]
    assert "--no-deps" not in command  # what the requirements pull in is audited too
    assert report["dependencies"][0]["name"] == "flask"


def test_unreachable_advisory_data_is_reported_not_passed(tmp_path):
    """The real script, with every connection going to a proxy that is not there."""
    proxy = f"http://127.0.0.1:{closed_port()}"
    env = {**os.environ, "HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "https_proxy": proxy, "http_proxy": proxy,
           "NO_PROXY": "", "no_proxy": "", "PIP_RETRIES": "0", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, str(SCRIPT), "requirements.txt"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr  # CI goes on: the network is not the code's fault
    assert done.stdout.startswith("dependency audit NOT RUN: "), done.stdout
    assert "not a pass" in done.stdout
    assert "no known vulnerabilities" not in done.stdout


def page(version, vulnerabilities=()):
    return {"info": {"version": version}, "vulnerabilities": list(vulnerabilities)}


def skipped(name, version):
    return {"name": name, "skip_reason": f"Dependency not found on PyPI and could not be audited: {name} ({version})"}


def test_a_known_vulnerability_fails_ci(audit_tool):
    report = {"dependencies": [
        {"name": "flask", "version": "3.1.3", "vulns": []},
        {"name": "ecdsa", "version": "0.19.1", "vulns": [{"id": "GHSA-wj6h-64fc-37mp", "fix_versions": ["0.19.2"]}]},
    ]}
    code, lines = audit_tool.verdict(audit_tool.audit(report, fetch=lambda name: pytest.fail("nothing skipped")))
    assert code == 1
    assert "VULNERABLE ecdsa 0.19.1: GHSA-wj6h-64fc-37mp (fixed in 0.19.2)" in lines
    assert lines[-1].startswith("dependency audit FAILED: 1 known vulnerabilities")


def test_a_skipped_latest_release_is_answered_from_its_project_page(audit_tool):
    """A mirror that serves no per-release data: the project page's advisories are the latest release's."""
    pages = {"ecdsa": page("0.19.2", [{"id": "PYSEC-2026-1325", "fixed_in": []},
                                      {"id": "GHSA-old", "fixed_in": ["0.1"], "withdrawn": "2024-01-01"}]),
             "flask": page("3.1.3")}
    report = {"dependencies": [skipped("flask", "3.1.3"), skipped("ecdsa", "0.19.2")]}
    result = audit_tool.audit(report, fetch=pages.get)
    assert result.checked == ["flask 3.1.3", "ecdsa 0.19.2"]
    code, lines = audit_tool.verdict(result)
    assert code == 1
    assert lines[0] == "VULNERABLE ecdsa 0.19.2: PYSEC-2026-1325 (no fixed release yet)"
    assert not any("GHSA-old" in line for line in lines)  # a withdrawn advisory is no finding


def test_releases_that_cannot_be_checked_are_listed(audit_tool):
    pages = {"flask": page("3.1.3"), "redis": page("8.2.0")}
    report = {"dependencies": [skipped("flask", "3.1.3"), skipped("redis", "8.1.0"), skipped("private-lib", "1.0")]}
    code, lines = audit_tool.verdict(audit_tool.audit(report, fetch=pages.get))
    assert code == 0
    assert "dependency audit: 1 releases checked against PyPI's advisory data, no known vulnerabilities" in lines
    assert "dependency audit INCOMPLETE: 2 releases could not be checked:" in lines
    assert "  redis 8.1.0: PyPI answers only for its latest release (8.2.0)" in lines
    assert "  private-lib 1.0: not on PyPI" in lines
    assert audit_tool.verdict(audit_tool.audit(report, fetch=pages.get), strict=True)[0] == 2


def test_nothing_checked_is_not_a_pass(audit_tool):
    def unreachable(name):
        raise audit_tool.Unreachable("pypi.org: [Errno -3] Temporary failure in name resolution")

    report = {"dependencies": [skipped("flask", "3.1.3"), skipped("redis", "8.1.0")]}
    calls = []
    result = audit_tool.audit(report, fetch=lambda name: calls.append(name) or unreachable(name))
    assert calls == ["flask"]  # one failed fetch is enough: no waiting out a timeout per release
    code, lines = audit_tool.verdict(result)
    assert code == 0
    assert lines[0] == ("dependency audit NOT RUN: PyPI's advisory data could not be reached: "
                        "pypi.org: [Errno -3] Temporary failure in name resolution")
    assert not any("no known vulnerabilities" in line for line in lines)
    assert audit_tool.verdict(result, strict=True)[0] == 2

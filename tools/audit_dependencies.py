"""CI's dependency audit: every package the pinned requirements install, checked against PyPI's advisory data.

Threat: a pinned dependency (or one it pulls in) with a published vulnerability ships unnoticed. Control:
``pip-audit`` resolves requirements.txt and requirements-dev.txt the way pip installs them and asks PyPI's
vulnerability feed about each release; a known vulnerability fails CI.

Why more than ``pip-audit`` alone: pip-audit reports a release PyPI does not answer for as "skipped" and still
ends with "No known vulnerabilities found", and when the feed or the index cannot be reached it exits 1 like a
finding. Either way a CI log would pass silently or fail for a network reason. So this script:

- answers a skipped release from PyPI's project page (``/pypi/<name>/json``) when the pinned release is the
  project's latest: that page's ``vulnerabilities`` are the latest release's (some PyPI mirrors serve the project
  page but not the per-release one);
- says plainly what it could not check: ``dependency audit NOT RUN: <reason>`` when nothing could be checked,
  ``dependency audit INCOMPLETE: ...`` listing the releases that could not be; both exit 0 (CI must not fail
  because the network did), or 2 with ``--strict``;
- exits 1, listing each advisory, when a dependency has a known vulnerability.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt")
PROJECT_PAGE = "https://pypi.org/pypi/{name}/json"
# resolving and checking ~120 releases takes ~30 s: a stalled network must not take CI's hour
PIP_AUDIT_TIMEOUT_SECONDS = 600
FETCH_TIMEOUT_SECONDS = 15
NOT_RUN, INCOMPLETE, FAILED = "dependency audit NOT RUN", "dependency audit INCOMPLETE", "dependency audit FAILED"

Fetch = Callable[[str], "dict[str, Any] | None"]  # a project page, None when PyPI has no such project


class Unreachable(Exception):
    """PyPI's advisory data could not be fetched (network, proxy, DNS, timeout, server error)."""


@dataclass(frozen=True)
class Advisory:
    package: str
    version: str
    id: str
    fixed_in: tuple[str, ...]

    def line(self) -> str:
        fix = f"fixed in {', '.join(self.fixed_in)}" if self.fixed_in else "no fixed release yet"
        return f"VULNERABLE {self.package} {self.version}: {self.id} ({fix})"


@dataclass
class Audit:
    checked: list[str] = field(default_factory=list)  # "name version" of each release checked
    advisories: list[Advisory] = field(default_factory=list)
    unchecked: dict[str, str] = field(default_factory=dict)  # "name version" -> why it could not be checked
    not_run: str = ""  # why nothing could be checked at all


def run_pip_audit(requirements: list[Path], timeout: float = PIP_AUDIT_TIMEOUT_SECONDS) -> dict[str, Any]:
    """pip-audit's JSON report, or ``Unreachable`` with the reason it gave none (it could not resolve the
    requirements from the index, reach the advisory feed, or finish in time)."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        command = [sys.executable, "-m", "pip_audit", "--vulnerability-service", "pypi", "--format", "json",
                   "--output", str(report), "--progress-spinner", "off", "--desc", "off"]
        for path in requirements:
            command += ["--requirement", str(path)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False)  # noqa: S603 (our own command line)
        except subprocess.TimeoutExpired:
            raise Unreachable(f"pip-audit did not finish within {timeout:.0f} s") from None
        text = report.read_text() if report.exists() else ""
        if not text.strip():
            raise Unreachable(f"pip-audit gave no report (exit {done.returncode}): {last_error(done.stderr)}")
    return json.loads(text)  # type: ignore[no-any-return]


def last_error(stderr: str) -> str:
    """The line of pip-audit's output that says what went wrong: pip's own last ``ERROR:`` (why resolving failed),
    else the last error pip-audit logged or raised, else its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    pip_errors = [line for line in lines if line.startswith("ERROR: ")]
    errors = [line for line in lines if "ERROR" in line or "Error" in line]
    chosen = (pip_errors or errors or lines or ["no output"])[-1]
    return chosen[:400]


def fetch_project_page(name: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(PROJECT_PAGE.format(name=name), timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
            return json.load(response)  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise Unreachable(f"{PROJECT_PAGE.format(name=name)} answered {exc.code}") from None
    except (OSError, ValueError) as exc:  # URLError, timeouts, refused proxies, a page that is not JSON
        raise Unreachable(f"{PROJECT_PAGE.format(name=name)}: {exc}") from None


def skipped_version(reason: str) -> str:
    """The release of a dependency pip-audit skipped: its reason ends ``... : name (version)``."""
    head, _, tail = reason.rstrip().rpartition("(")
    return tail.rstrip(")").strip() if head and tail.endswith(")") else ""


def audit(report: dict[str, Any], fetch: Fetch = fetch_project_page) -> Audit:
    """What pip-audit's report says, with its skipped releases answered from the project pages where they can be."""
    result = Audit()
    unreachable = ""
    for dependency in report.get("dependencies", []):
        name = dependency["name"]
        if "skip_reason" not in dependency:
            release = f"{name} {dependency['version']}"
            result.checked.append(release)
            result.advisories += [Advisory(name, dependency["version"], vuln["id"], tuple(vuln.get("fix_versions", [])))
                                  for vuln in dependency.get("vulns", [])]
            continue
        version = skipped_version(dependency["skip_reason"])
        release = f"{name} {version}".strip()
        if unreachable:
            result.unchecked[release] = unreachable
            continue
        try:
            page = fetch(name)
        except Unreachable as exc:
            unreachable = f"PyPI's advisory data could not be reached: {exc}"
            result.unchecked[release] = unreachable
            continue
        latest = page["info"]["version"] if page else ""
        if not page:
            result.unchecked[release] = "not on PyPI"
        elif not version or latest != version:
            result.unchecked[release] = f"PyPI answers only for its latest release ({latest})"
        else:
            result.checked.append(release)
            result.advisories += [Advisory(name, version, vuln["id"], tuple(vuln.get("fixed_in") or []))
                                  for vuln in page.get("vulnerabilities") or [] if not vuln.get("withdrawn")]
    if not result.checked and not result.advisories:
        result.not_run = unreachable or "PyPI had advisory data for none of the dependencies"
    return result


def verdict(result: Audit, strict: bool = False) -> tuple[int, list[str]]:
    """The exit code and the lines CI prints."""
    lines = [advisory.line() for advisory in result.advisories]
    if result.advisories:
        lines.append(f"{FAILED}: {len(result.advisories)} known vulnerabilities in the pinned dependencies: "
                     "upgrade them to a fixed release")
        return 1, lines
    if result.not_run:
        return (2 if strict else 0), [f"{NOT_RUN}: {result.not_run}",
                                      "No dependency was checked: this is not a pass."]
    lines.append(f"dependency audit: {len(result.checked)} releases checked against PyPI's advisory data, "
                 "no known vulnerabilities")
    if result.unchecked:
        lines.append(f"{INCOMPLETE}: {len(result.unchecked)} releases could not be checked:")
        lines += [f"  {release}: {why}" for release, why in sorted(result.unchecked.items())]
        return (2 if strict else 0), lines
    return 0, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("requirements", nargs="*", type=Path, default=[ROOT / name for name in REQUIREMENTS])
    parser.add_argument("--strict", action="store_true",
                        help="exit 2 when the audit could not run or could not check every release")
    args = parser.parse_args(argv)
    try:
        result = audit(run_pip_audit(args.requirements))
    except Unreachable as exc:
        result = Audit(not_run=f"the requirements could not be resolved or checked: {exc}")
    code, lines = verdict(result, strict=args.strict)
    print("\n".join(lines), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())

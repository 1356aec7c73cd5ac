"""What every page visited by the browser tests is held to: no serious or critical accessibility violation (axe-core,
WCAG 2.1 A and AA), no Content-Security-Policy violation and no script error; and a full-page screenshot of it.

axe-core is evaluated through the DevTools protocol (``page.evaluate``), which the page's CSP does not govern, so the
audit runs on the very page an officer gets, under its real CSP: the tests need no ``bypass_csp`` context, and every
journey therefore also proves that the pages work without 'unsafe-inline' (a blocked inline script, ``style=``
attribute or handler is reported by the ``securitypolicyviolation`` listener installed before any page script).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from playwright.sync_api import BrowserContext, ConsoleMessage, Error, Page

REPO = Path(__file__).resolve().parents[2]
VENDOR = Path(__file__).parent / "vendor"
AXE_VERSION = "4.14.1"  # tests/browser/vendor/README.md
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = {"serious", "critical"}
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR") or REPO / "var" / "screenshots")

_axe_source: str | None = None

_WATCH_SCRIPT = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__postmanCspViolation({
    directive: event.violatedDirective, blocked: event.blockedURI, source: event.sourceFile,
    line: event.lineNumber, sample: event.sample, page: document.location.href,
  });
});
"""

_AXE_RUN = """
async (tags) => {
  // iframes: false - the one frame on these pages is an email's own HTML in a sandbox (the outbox), not a page of
  // this site, and axe would wait a minute for an answer from a frame that runs no script.
  const results = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
                                           iframes: false});
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), html: n.html, summary: n.failureSummary})),
  }));
}
"""


def axe_source() -> str:
    global _axe_source
    if _axe_source is None:
        source = (VENDOR / "axe.min.js").read_text(encoding="utf-8")
        if not source.startswith(f"/*! axe v{AXE_VERSION}"):
            raise AssertionError(f"tests/browser/vendor/axe.min.js is not axe-core {AXE_VERSION}: update the "
                                 "version in page_checks.py and vendor/README.md together with the file")
        _axe_source = source
    return _axe_source


@dataclass
class PageWatch:
    """CSP violations and uncaught script errors of every page of one browser context."""

    scripts: bool = True  # False: a context with JavaScript turned off (see check_page)
    csp_violations: list[dict[str, Any]] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = [f"CSP violation on {v.get('page')}: {v.get('directive')} blocked {v.get('blocked') or 'inline'} "
                 f"({v.get('source') or 'the document'} line {v.get('line')}) {v.get('sample') or ''}".rstrip()
                 for v in self.csp_violations]
        return found + [f"script error: {error}" for error in self.script_errors]

    def on_csp_violation(self, violation: dict[str, Any]) -> None:
        self.csp_violations.append(violation)

    def on_console(self, message: ConsoleMessage) -> None:
        # The event listener reports violations with their details; this catches any the listener could miss
        # (a violation before the listener ran, in a frame). Other console errors (a 4xx status of a page showing
        # a form's errors) are expected.
        if message.type == "error" and "Content Security Policy" in message.text:
            if not any(v.get("console") == message.text for v in self.csp_violations):
                self.csp_violations.append({"console": message.text, "page": message.location.get("url"),
                                            "directive": "(console)", "blocked": message.text[:200]})

    def on_page_error(self, error: Error) -> None:
        self.script_errors.append(f"{error.name}: {error.message}")


_watches: WeakKeyDictionary[BrowserContext, PageWatch] = WeakKeyDictionary()


def watch(context: BrowserContext, scripts: bool = True) -> PageWatch:
    """Starts recording CSP violations and script errors in every page the context opens from now on; ``scripts``
    says whether the context runs JavaScript."""
    found = PageWatch(scripts)
    _watches[context] = found
    context.expose_function("__postmanCspViolation", found.on_csp_violation)
    context.add_init_script(_WATCH_SCRIPT)
    context.on("console", found.on_console)
    context.on("weberror", lambda web_error: found.on_page_error(web_error.error))
    return found


def watch_of(page: Page) -> PageWatch:
    return _watches[page.context]


def accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (every impact)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    violations: list[dict[str, Any]] = page.evaluate(_AXE_RUN, AXE_TAGS)
    return violations


def describe(violations: list[dict[str, Any]], name: str, url: str) -> str:
    lines = [f"axe-core {AXE_VERSION} found {len(violations)} serious or critical accessibility violation(s) on "
             f"page '{name}' ({url}):"]
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"][:10]:
            summary = " ".join(str(node["summary"] or "").split())
            lines.append(f"    {node['target']}: {node['html'][:300]}\n      {summary[:500]}")
    return "\n".join(lines)


def screenshot_path(name: str) -> Path:
    return SCREENSHOTS / (re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") + ".png")


def take_screenshot(page: Page, path: Path, attempts: int = 3) -> None:
    """A full-page screenshot, tried again when headless Chromium answers "Unable to capture screenshot": its
    compositor sometimes has no frame ready when both cores are busy (seen once in CI while the other worker ran an
    end-to-end test). The picture is a record of the page, not what the test asserts, so a frame that is merely late
    must not fail the journey; a page that never paints still does, after the last attempt."""
    for attempt in range(1, attempts + 1):
        try:
            page.screenshot(path=str(path), full_page=True)
            return
        except Error as error:
            if "Unable to capture screenshot" not in str(error) or attempt == attempts:
                raise
            page.wait_for_timeout(250 * attempt)


def check_page(page: Page, name: str) -> None:
    """The checks every page passes, with ``name`` naming it in messages and in its screenshot
    (``var/screenshots/<name>.png``): no serious or critical axe violation; no CSP violation or script error so far
    in this browser context.

    In a context with JavaScript turned off, axe cannot run (its timers never fire): there the page is only
    photographed and checked for CSP violations; the tests that use such a context audit the same page with scripts
    on too."""
    page.wait_for_load_state("load")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    take_screenshot(page, screenshot_path(name))
    found = watch_of(page)
    if found.scripts:
        blocking = [v for v in accessibility_violations(page) if v["impact"] in BLOCKING_IMPACTS]
        assert not blocking, describe(blocking, name, page.url)
    problems = found.problems()
    assert not problems, f"on or before page '{name}' ({page.url}):\n" + "\n".join(problems)

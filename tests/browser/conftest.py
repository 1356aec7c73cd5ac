"""Fixtures of the browser tests: the whole system as processes (as `make run` starts it: emails to the local outbox,
SMS to a local Twilio fake), Debian's Chromium driven by Playwright, and a fresh browser context per test that
records CSP violations and script errors (see ``page_checks``).

The system lives as long as this package's tests (not the session: its consumers share the test vhost with the
other suites, so it must be gone before they run).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from postman_shared.credentials import new_master_key
from tests.browser.page_checks import watch, watch_of
from tests.fakes.twilio import FakeTwilio
from tests.support.processes import RunningSystem, start_system, stop_system
from tests.support.stores import Stores

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
DEFAULT_TIMEOUT_MS = 15_000

# The Twilio account the SMS journey types into the credentials form; the fake accepts only it.
TWILIO_ACCOUNT = {
    "account_sid": "AC" + secrets.token_hex(16),
    "api_key": "SK" + secrets.token_hex(16),
    "api_secret": secrets.token_hex(16),
    "messaging_service_sid": "MG" + secrets.token_hex(16),
}
TWILIO_UNDELIVERED = "+6581234567"  # in tests/testdata/sms_sg_numbers.csv: ends as an error (Twilio 30003)


def chromium_executable() -> str:
    found = CHROMIUM if os.path.isabs(CHROMIUM) else shutil.which(CHROMIUM)
    if not found or not os.access(found, os.X_OK):
        pytest.fail(
            f"Chromium was not found at {CHROMIUM}: the browser tests (tests/browser) drive Debian's chromium "
            "package. Install it as root with `apt-get install -y chromium` (`make test` does so when run as "
            "root), or set CHROMIUM_PATH to a Chromium executable.",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="package")
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(api_key=TWILIO_ACCOUNT["api_key"], api_secret=TWILIO_ACCOUNT["api_secret"],
                    undelivered={TWILIO_UNDELIVERED}) as fake:
        yield fake


@pytest.fixture(scope="package")
def system(stores: Stores, tmp_path_factory: pytest.TempPathFactory, twilio: FakeTwilio) -> Iterator[RunningSystem]:
    running = start_system(stores, tmp_path_factory.mktemp("browser"), EMAIL_TRANSPORT="outbox",
                           TWILIO_API_BASE=twilio.base_url, CREDENTIALS_KEY=new_master_key())
    yield running
    stop_system(running)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    executable = chromium_executable()
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


def new_context(browser: Browser, system: RunningSystem, **options: Any) -> BrowserContext:
    """A fresh browser context (no cookies) on the gateway, under the pages' real CSP (no bypass), recording CSP
    violations and script errors."""
    created = browser.new_context(base_url=system.gateway_url, accept_downloads=True, locale="en-SG",
                                  viewport={"width": 1280, "height": 900}, **options)
    created.set_default_timeout(DEFAULT_TIMEOUT_MS)
    watch(created, scripts=bool(options.get("java_script_enabled", True)))
    return created


@pytest.fixture
def context(browser: Browser, system: RunningSystem) -> Iterator[BrowserContext]:
    created = new_context(browser, system)
    yield created
    created.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    opened = context.new_page()
    yield opened
    problems = watch_of(opened).problems()
    assert not problems, "\n".join(problems)


@pytest.fixture(params=[True, False], ids=["with-scripts", "without-scripts"])
def scripts(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def any_page(browser: Browser, system: RunningSystem, scripts: bool) -> Iterator[Page]:
    """A page with scripts, then one with scripts turned off (``scripts``): the plain forms must do the same job."""
    created = new_context(browser, system, java_script_enabled=scripts)
    opened = created.new_page()
    yield opened
    problems = watch_of(opened).problems()
    created.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def outbox(system: RunningSystem) -> Path:
    return Path(system.env["OUTBOX_DIR"])


@pytest.fixture
def officer_email() -> str:
    """A new officer for each test (the system is shared by the package's tests)."""
    return f"officer-{secrets.token_hex(4)}@tech.gov.sg"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed browser test shows the errors the services logged meanwhile (a page's 500 says only its request
    id): the last lines at level error of each service's log."""
    report = yield
    running = getattr(item, "funcargs", {}).get("system")
    if report.failed and isinstance(running, RunningSystem):
        for name in running.processes:
            log = running.log_dir / f"{name}.log"
            lines = log.read_text(errors="replace").splitlines() if log.exists() else []
            errors = [line for line in lines if '"level": "error"' in line or "Traceback" in line][-5:]
            if errors:
                report.sections.append((f"{name} errors", "\n".join(line[:4000] for line in errors)))
    return report

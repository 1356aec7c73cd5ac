"""No personal data in the logs at info level and above: call sites do not pass it (a scan of the source), and the
masking processor of ``postman_shared.logging`` catches what a call site would pass anyway."""

from __future__ import annotations

import ast
import json
import threading
from pathlib import Path

import pytest
import structlog

from postman_shared.logging import MASK, SENSITIVE_KEYS, configure_logging, get_logger, process_service

ROOT = Path(__file__).resolve().parents[2]
# Methods that log at info level or above, and those that bind values for every line that follows (any level).
LOGGING_METHODS = {"info", "warning", "warn", "error", "exception", "critical", "fatal", "msg"}
BINDING_METHODS = {"bind", "new", "bind_contextvars", "bind_to_request"}


def _sensitive_keywords(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name not in LOGGING_METHODS | BINDING_METHODS:
            continue
        for keyword in node.keywords:
            if keyword.arg in SENSITIVE_KEYS:
                found.append(f"{path.relative_to(root)}:{node.lineno}: {name}({keyword.arg}=...)")
    return sorted(found)


def _sources() -> list[Path]:
    return sorted(p for folder in ("services", "lib") for p in (ROOT / folder).rglob("*.py"))


def test_no_log_call_at_info_level_or_above_passes_personal_data_by_a_sensitive_key():
    sources = _sources()
    assert len(sources) > 100  # the scan sees the services' code
    offenders = [line for path in sources for line in _sensitive_keywords(path)]
    assert offenders == [], "log the domain, an id or a count instead; or log.debug it:\n" + "\n".join(offenders)


def test_the_scan_finds_a_sensitive_key_in_a_bound_or_info_logger(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("log.bind(email=a).info('x')\nlog.info('y', ip=b)\nlog.debug('z', email=a)\n")
    assert _sensitive_keywords(sample, tmp_path) == ["sample.py:1: bind(email=...)", "sample.py:2: info(ip=...)"]


@pytest.fixture
def logged(capsys):
    before = process_service()
    configure_logging("test-service", "DEBUG", "json")
    yield lambda: [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    configure_logging(before, "INFO", "console")  # later tests in this process log as they would have
    structlog.contextvars.clear_contextvars()


def test_sensitive_values_are_masked_at_info_and_above_and_kept_at_debug(logged):
    log = get_logger(component="privacy-test")
    log.info("sent", email="someone@example.com", ip="203.0.113.9", message_id="m1")
    log.bind(phone="+6591234567").warning("queued", chat_id=12345)
    log.debug("detail", email="someone@example.com")
    lines = logged()
    assert [(line["event"], line.get("email"), line.get("ip"), line.get("message_id")) for line in lines[:1]] == [
        ("sent", MASK, MASK, "m1")]
    assert (lines[1]["phone"], lines[1]["chat_id"]) == (MASK, MASK)
    assert lines[2]["email"] == "someone@example.com"
    assert "someone@example.com" not in json.dumps(lines[:2]) and "+6591234567" not in json.dumps(lines[:2])


def test_every_line_names_its_service_in_threads_that_bound_nothing(logged):
    thread = threading.Thread(target=lambda: get_logger().info("from a library thread"))
    thread.start()
    thread.join()
    structlog.contextvars.clear_contextvars()  # the configuring thread's binding is not what puts it there
    get_logger().info("after clearing")
    assert [(line["event"], line["service"]) for line in logged()] == [
        ("from a library thread", "test-service"), ("after clearing", "test-service")]

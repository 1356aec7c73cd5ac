"""structlog configured once per process: JSON lines on stdout, every line naming its service.

Correlation: ``service`` is on every line, whatever thread wrote it (the process's service unless the thread bound
its own: the in-process tests host several services). A request id (``request_id``) and the campaign and job a line
is about (``campaign_id``, ``job_id``) are bound in structlog's context variables for the duration of one unit of
work: an HTTP request at the gateway, a gRPC call at a server (``grpc.server``), a batch at a queue consumer
(``broker.consumer``). Context variables do not flow into new threads, so each of those binds at its own start and
unbinds at its end, and an id never outlives the work it belongs to.

Personal data: at info level and above, the values of known sensitive keys (``SENSITIVE_KEYS``: addresses, phone
numbers, chat ids, IPs) are masked before rendering, by key name. It is a second line of defence: call sites must not
log them at all at those levels (``tests/unit/test_log_privacy.py`` checks the source).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Keys whose values are personal data or network identities of the public: masked at info level and above.
SENSITIVE_KEYS = frozenset({
    "email", "emails", "recipient", "recipients", "address", "addresses", "to", "from_address", "reply_to",
    "phone", "phone_number", "mobile", "msisdn", "chat_id", "telegram_chat_id",
    "ip", "ip_address", "remote_addr", "client_ip", "x_forwarded_for",
})
MASK = "[redacted]"
_DEBUG = logging.DEBUG

_process_service = "postman"
_tracing_on = False  # set by ``tracing.enable``: lines then carry the ``trace_id`` of the span they were written in


class _CurrentStdout:
    """Writes to whatever ``sys.stdout`` is at the time of writing, not the one at configuration: loggers are
    cached, and a test runner (or a daemon) may swap standard output after logging was configured."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def _add_service(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The process's service on lines from threads that bound none (pika's, gRPC's, waitress's, a library's)."""
    if "service" not in event:
        event["service"] = _process_service
    return event


def _add_trace_id(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """With tracing on, the trace a line belongs to, to go from a log line to its trace (and back)."""
    if _tracing_on:
        from opentelemetry import trace

        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            event["trace_id"] = format(context.trace_id, "032x")
    return event


def set_tracing(on: bool) -> None:
    global _tracing_on
    _tracing_on = on


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "warn": logging.WARNING,
           "error": logging.ERROR, "exception": logging.ERROR, "critical": logging.CRITICAL}


def mask_sensitive(_logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Masks the values of ``SENSITIVE_KEYS`` on lines at info level and above (debug keeps them, for a developer).

    By key name only: scanning every value's text would cost every line a regex pass and still miss what it
    does not recognise."""
    level = event.get("level", method)
    if _LEVELS.get(str(level).lower(), logging.INFO) <= _DEBUG:
        return event
    for key in SENSITIVE_KEYS.intersection(event):
        if event[key] not in (None, ""):
            event[key] = MASK
    return event


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> structlog.stdlib.BoundLogger:
    """Sets up structlog and the standard library logging so both print JSON with ``service`` on every line."""
    global _process_service
    _process_service = service
    renderer: structlog.typing.Processor
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = structlog.processors.JSONRenderer()
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_service,
        _add_trace_id,
        structlog.stdlib.add_log_level,
        mask_sensitive,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(_CurrentStdout()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(_CurrentStdout())  # type: ignore[arg-type]
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if level == "INFO" else level)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    return structlog.get_logger()


def process_service() -> str:
    """The service this process runs (the last one configured, in a process that hosts several)."""
    return _process_service


def get_logger(**bound: object) -> structlog.stdlib.BoundLogger:
    """A lazy logger: safe to create at import time, it uses the configuration in force when it first logs."""
    return structlog.get_logger(**bound)  # type: ignore[no-any-return]

"""postmanctl for the tests: its real entry point run in the test process (``in_process``), or as a real subprocess
(``as_subprocess``), both answering a ``subprocess.CompletedProcess`` (returncode, stdout, stderr).

Why in-process: a ``python -m postman_ctl.cli`` costs a second of CPU importing (two to three on a loaded machine)
before the command does anything, and the postmanctl tests make over a hundred calls. ``in_process`` runs the same
``postman_ctl.cli.main`` with the same argv and environment, so what a test asserts (the exit status, each line on
stdout and stderr, no traceback) means what it means for the subprocess. Each module keeps at least one test on
``as_subprocess``, the one that best checks the real entry point (``python -m``, exit codes, no traceback).

What a process of its own gives the command, and what the test process must get back after it:
  - the environment (``os.environ``, read by ``Settings.from_env``) and ``sys.argv``: the command's own, restored;
  - stdout and stderr: captured from the command's thread only; services running in the test process keep logging
    where they did, so their lines never land in the command's output;
  - an uncaught exception: its traceback on the captured stderr and status 1, as Python prints it; ``SystemExit``
    (``sys.exit``, argparse's errors) becomes the status as Python's exit would make it;
  - logging: ``purge`` configures structlog and the root logger as ``postmanctl``; both are put back (a structlog
    logger first used during the command keeps the configuration it cached, as it does when a service configures
    logging in the test process);
  - context variables (structlog's bound ``service``, the request id, the trace context): the command runs in an
    empty context, as a new process's main thread does, so nothing it binds outlives it;
  - the gRPC caller: the test process calls as the gateway (``tests/conftest.py``) and a test may act as a sender;
    the command starts with no identity, as in its own process, and takes postmanctl's certificate itself
    (``client.use_identity`` in disable-user, ``acting_as`` in suppression); the process's and the thread's
    identities are put back after it;
  - gRPC channels: those the command opens are closed when it ends, as its exit would; its ``client.close_all()``
    closes only those, as in its own process (the test's and the in-process services' channels stay open);
  - database engines: each ``Database`` the command makes is disposed when it ends, as its exit would close their
    connections (an engine left to the garbage collector would hold a PostgreSQL connection meanwhile);
  - signal handlers and the working directory: put back if the command changed them.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import logging
import os
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

import structlog

from postman_ctl import cli
from postman_shared import logging as postman_logging
from postman_shared.db import Database
from postman_shared.grpc import client

# os.environ, sys.argv and the standard streams belong to the process: one in-process command at a time.
_one_at_a_time = threading.Lock()


def as_subprocess(args: list[str] | tuple[str, ...], env: Mapping[str, str],
                  timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m postman_ctl.cli *args`` with exactly ``env`` as its environment."""
    return subprocess.run([sys.executable, "-m", "postman_ctl.cli", *args], capture_output=True, text=True,
                          env=dict(env), timeout=timeout)


def in_process(args: list[str] | tuple[str, ...], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """What ``as_subprocess(args, env)`` answers, from ``postman_ctl.cli.main`` run in this process."""
    argv = ["postmanctl", *args]
    stdout, stderr = io.StringIO(), io.StringIO()
    with _one_at_a_time, _a_process_of_its_own(argv, env, stdout, stderr):
        status = contextvars.Context().run(_exit_status)
    return subprocess.CompletedProcess(argv, status, stdout.getvalue(), stderr.getvalue())


def _exit_status() -> int:
    """What ``python -m postman_ctl.cli`` (``sys.exit(main())``) exits with, and prints when it fails."""
    try:
        raise SystemExit(cli.main())
    except SystemExit as exit_:
        return _status_of(exit_.code)
    except Exception:  # noqa: BLE001 - what Python does with an uncaught exception: traceback on stderr, status 1
        traceback.print_exc()
        return 1


def _status_of(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)  # sys.exit("message"): the message on stderr, status 1
    return 1


class _CommandOutput(io.TextIOBase):
    """``sys.stdout`` or ``sys.stderr`` while the command runs: what its thread writes is captured, what other
    threads write (services running in the test process) goes where it went before."""

    def __init__(self, captured: io.StringIO, others: TextIO, command_thread: int) -> None:
        self._captured = captured
        self._others = others
        self._command_thread = command_thread

    def _stream(self) -> TextIO:
        return self._captured if threading.get_ident() == self._command_thread else self._others

    def write(self, text: str) -> int:
        return self._stream().write(text)

    def flush(self) -> None:
        self._stream().flush()

    def writable(self) -> bool:
        return True


@contextlib.contextmanager
def _a_process_of_its_own(argv: list[str], env: Mapping[str, str], stdout: io.StringIO,
                          stderr: io.StringIO) -> Iterator[None]:
    command_thread = threading.get_ident()
    saved_environ, saved_argv, saved_cwd = dict(os.environ), sys.argv, os.getcwd()
    saved_stdout, saved_stderr = sys.stdout, sys.stderr
    root = logging.getLogger()
    saved_root_handlers, saved_root_level = list(root.handlers), root.level
    saved_structlog = structlog.get_config() if structlog.is_configured() else None
    saved_service = postman_logging.process_service()
    saved_signals = _signal_handlers()
    channels_before = set(client._channels)
    saved_process_identity = client._process_identity
    saved_thread_identity = getattr(client._thread, "identity", None)
    databases: list[Database] = []

    def close_its_channels() -> None:
        with client._lock:
            opened = [key for key in client._channels if key not in channels_before]
            for key in opened:
                client._channels.pop(key).close()

    database_init = Database.__init__

    def recorded_database_init(database: Database, *args: Any, **kwargs: Any) -> None:
        database_init(database, *args, **kwargs)
        if threading.get_ident() == command_thread:
            databases.append(database)

    os.environ.clear()
    os.environ.update(env)
    sys.argv = argv
    sys.stdout = _CommandOutput(stdout, saved_stdout, command_thread)
    sys.stderr = _CommandOutput(stderr, saved_stderr, command_thread)
    client._process_identity = None
    client._thread.identity = None
    try:
        with _patched(client, "close_all", close_its_channels), \
                _patched(Database, "__init__", recorded_database_init):
            yield
    finally:
        close_its_channels()
        for database in databases:
            database.dispose()
        client._thread.identity = saved_thread_identity
        client._process_identity = saved_process_identity
        _restore_signal_handlers(saved_signals)
        postman_logging._process_service = saved_service
        if saved_structlog is None:
            structlog.reset_defaults()
        else:
            structlog.configure(**saved_structlog)
        root.handlers[:] = saved_root_handlers
        root.setLevel(saved_root_level)
        sys.stdout, sys.stderr = saved_stdout, saved_stderr
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_environ)
        if os.getcwd() != saved_cwd:
            os.chdir(saved_cwd)


@contextlib.contextmanager
def _patched(owner: object, name: str, replacement: object) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _signal_handlers() -> dict[signal.Signals, Any]:
    return {number: signal.getsignal(number) for number in _SIGNALS}


def _restore_signal_handlers(saved: dict[signal.Signals, Any]) -> None:
    for number, handler in saved.items():
        # None: a handler not set from Python, which Python cannot set back (the command sets none of its own).
        if handler is not None and signal.getsignal(number) is not handler \
                and threading.current_thread() is threading.main_thread():
            signal.signal(number, handler)

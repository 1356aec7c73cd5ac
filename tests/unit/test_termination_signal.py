"""A service stops on SIGTERM even when the kernel hands the signal to another thread than the main one.

Kubernetes (and `make run`'s honcho) send SIGTERM to the process; the kernel delivers it to any thread that does not
block it (pika's, gRPC's). CPython then only flags it for the main thread, whose handler runs at its next bytecode:
a main thread blocked in a wait without timeout never gets there, and the pod ignores SIGTERM until it is killed at
the end of its grace period (seen once as a service that did not stop in a test's teardown).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import signal, threading, time
    from postman_shared.grpc.server import wait_for_termination_signal

    def deliver_to_this_thread():
        time.sleep(0.3)  # the main thread is in its wait by then
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)  # the signal lands on this thread, not main's
        time.sleep(60)

    threading.Thread(target=deliver_to_this_thread, daemon=True).start()
    wait_for_termination_signal()
    print("stopped")
""")


def test_sigterm_delivered_to_another_thread_ends_the_wait() -> None:
    try:
        result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError("the main thread never woke up: SIGTERM on another thread was ignored") from exc
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "stopped"
    assert any("stopping" in line and "SIGTERM" in line for line in lines[:-1]), "the stop is logged, with its signal"

"""A TCP port in front of a store (RabbitMQ, PostgreSQL) that refuses connections until it is opened: a test's
stand-in for a store restarting, without touching the machine's own."""

from __future__ import annotations

import socket
import threading


class Forwarder:
    """A TCP port that forwards every connection to ``target``, opened only when ``open`` is called: before that,
    connecting is refused, as when the store is restarting. ``accepted`` counts the connections it took."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port = port
        self._target = target
        self._listener: socket.socket | None = None
        self.accepted = 0

    def open(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self.accepted += 1
            upstream = socket.create_connection(self._target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.close()
                except OSError:
                    pass

"""gRPC clients: one channel per address and caller identity per process, created on first use.

Every channel is mutual TLS with the certificate of the service making the call (``identity``). A process is one
service, whose bootstrap names it (``use_identity``); when one process hosts several services (the in-process tests),
each service's threads carry their own (``acting_as``), so a call made on the renderer's behalf is the renderer's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import grpc

from postman_shared.grpc.errors import from_rpc_error
from postman_shared.grpc.identity import ServiceIdentity

_channels: dict[tuple[str, ServiceIdentity], grpc.Channel] = {}
_lock = threading.Lock()
_process_identity: ServiceIdentity | None = None
_thread = threading.local()

T = TypeVar("T")

_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.enable_retries", 1),
    ("grpc.keepalive_time_ms", 30000),
]


def use_identity(identity: ServiceIdentity) -> None:
    """The identity of this process's calls (its service), unless a thread acts as another."""
    global _process_identity
    _process_identity = identity


@contextmanager
def acting_as(identity: ServiceIdentity) -> Iterator[None]:
    """Calls (stubs) made by this thread inside the block are ``identity``'s."""
    before = getattr(_thread, "identity", None)
    _thread.identity = identity
    try:
        yield
    finally:
        _thread.identity = before


def set_thread_identity(identity: ServiceIdentity) -> None:
    """For a thread that works for one service all its life (e.g. a gRPC server's worker threads)."""
    _thread.identity = identity


def current_identity() -> ServiceIdentity:
    identity = getattr(_thread, "identity", None) or _process_identity
    if identity is None:
        raise RuntimeError("no service identity for gRPC calls: the bootstrap must call client.use_identity")
    return identity


def channel(address: str, identity: ServiceIdentity | None = None) -> grpc.Channel:
    """The channel to ``address`` as ``identity`` (default: the current thread's service)."""
    identity = identity or current_identity()
    key = (address, identity)
    with _lock:
        existing = _channels.get(key)
        if existing is None:
            if identity.plaintext:
                existing = grpc.insecure_channel(address, options=_OPTIONS)
            else:
                existing = grpc.secure_channel(address, identity.channel_credentials(), options=_OPTIONS)
            _channels[key] = existing
        return existing


def stub(address: str, stub_class: Callable[[grpc.Channel], T], identity: ServiceIdentity | None = None) -> T:
    return stub_class(channel(address, identity))


def call(method: Callable[..., Any], request: Any, timeout: float = 30.0) -> Any:
    """Calls a unary method and raises ServiceError (with the server's API code) when it fails."""
    try:
        return method(request, timeout=timeout, wait_for_ready=True)
    except grpc.RpcError as exc:
        raise from_rpc_error(exc) from None


def close_all() -> None:
    with _lock:
        for ch in _channels.values():
            ch.close()
        _channels.clear()

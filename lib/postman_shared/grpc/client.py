"""gRPC clients: one channel per address per process, created on first use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from postman_shared.grpc.errors import from_rpc_error

_channels: dict[str, grpc.Channel] = {}
_lock = threading.Lock()

T = TypeVar("T")


def channel(address: str) -> grpc.Channel:
    with _lock:
        existing = _channels.get(address)
        if existing is None:
            existing = grpc.insecure_channel(
                address,
                options=[
                    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                    ("grpc.enable_retries", 1),
                    ("grpc.keepalive_time_ms", 30000),
                ],
            )
            _channels[address] = existing
        return existing


def stub(address: str, stub_class: Callable[[grpc.Channel], T]) -> T:
    return stub_class(channel(address))


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

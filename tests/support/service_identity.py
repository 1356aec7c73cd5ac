"""Service certificates for the tests: one local authority and a certificate per service, made once per test
session in a temporary folder, so that the tests talk mutual TLS with the method table enforced, as `make run` and
a cluster do.

The test process itself calls services as the gateway (``tests/conftest.py``); a test that plays another service
(the renderer asking stats for recorded recipients, say) says so with ``acting_as("renderer")``."""

from __future__ import annotations

import atexit
import functools
import importlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from postman_shared.grpc import client
from postman_shared.grpc.authorization import ALLOWED_CALLERS, GATEWAY
from postman_shared.grpc.certificates import ensure_certificates
from postman_shared.grpc.identity import ServiceIdentity, load_identity
from postman_shared.settings import Settings

_folder: list[Path] = []


def certificate_dir() -> Path:
    """The session's certificate folder (GRPC_TLS_DIR), created on first use and removed at exit."""
    if not _folder:
        folder = Path(tempfile.mkdtemp(prefix="postman-certs-"))
        atexit.register(shutil.rmtree, folder, True)
        ensure_certificates(folder)
        _folder.append(folder)
    return _folder[0]


def identity(name: str) -> ServiceIdentity:
    return load_identity(Settings(grpc_tls_dir=certificate_dir()), name)


@contextmanager
def acting_as(name: str) -> Iterator[None]:
    """Stubs made inside the block call as service ``name``."""
    with client.acting_as(identity(name)):
        yield


@functools.cache
def _identity(name: str) -> ServiceIdentity:
    return identity(name)


def _service_of(stub_class: type) -> str:
    """The full name of the gRPC service a generated stub class calls (postman.v1.CampaignService)."""
    messages = importlib.import_module(stub_class.__module__.removesuffix("_grpc"))
    return str(messages.DESCRIPTOR.services_by_name[stub_class.__name__.removesuffix("Stub")].full_name)


class LegitimateCaller:
    """A stub whose every method is called as a service the method table allows (the gateway when it may): tests of
    a service's behaviour play whichever service really makes each call. tests/security/test_service_identity.py
    checks that the wrong caller is refused."""

    def __init__(self, address: str, stub_class: type) -> None:
        self._address = address
        self._stub_class = stub_class
        self._service = _service_of(stub_class)

    def __getattr__(self, method: str) -> Any:
        callers = ALLOWED_CALLERS.get(f"/{self._service}/{method}", frozenset())
        name = GATEWAY if not callers or GATEWAY in callers else sorted(callers)[0]
        return getattr(client.stub(self._address, self._stub_class, _identity(name)), method)


def stub(address: str, stub_class: type) -> Any:
    """``client.stub`` for the tests: see ``LegitimateCaller``."""
    return LegitimateCaller(address, stub_class)

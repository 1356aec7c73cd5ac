"""Who a process is to the other services: its name and the certificate that proves it.

Every gRPC connection is mutual TLS: the server asks for the client's certificate, both sides check the other's
against the installation's authority, and the server reads the caller's name from the certificate's subject CN
(``authorization.caller_of``). The files come from ``GRPC_TLS_DIR/<service>/`` (``tls.crt``, ``tls.key``,
``ca.crt``): made by ``postmanctl certs`` for ``make run`` and the tests, mounted from a Secret in a cluster.

Plaintext (``GRPC_INSECURE=true``) has no identities, so no method can be restricted: it is refused unless
PUBLIC_URL is this machine, and logged as a warning when used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import grpc

from postman_shared.grpc.certificates import CA_FILE, CERT_FILE, KEY_FILE
from postman_shared.logging import get_logger
from postman_shared.settings import Settings, SettingsError
from postman_shared.unsubscribe_links import is_local_development

log = get_logger(component="grpc")


@dataclass(frozen=True)
class ServiceIdentity:
    """A service's name and its PEM files; without a certificate, the plaintext of local development."""

    name: str
    ca: bytes = field(default=b"", repr=False)
    cert: bytes = field(default=b"", repr=False)
    key: bytes = field(default=b"", repr=False)

    @property
    def plaintext(self) -> bool:
        return not self.cert

    def server_credentials(self) -> grpc.ServerCredentials:
        """Serves with this certificate and answers only clients with a certificate of the same authority."""
        return grpc.ssl_server_credentials([(self.key, self.cert)], root_certificates=self.ca,
                                           require_client_auth=True)

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Connects presenting this certificate, to servers whose certificate the same authority signed."""
        return grpc.ssl_channel_credentials(root_certificates=self.ca, private_key=self.key,
                                            certificate_chain=self.cert)


def identity_files(tls_dir: Path, name: str) -> tuple[Path, Path, Path]:
    """(ca.crt, tls.crt, tls.key) of service ``name``."""
    folder = tls_dir / name
    return folder / CA_FILE, folder / CERT_FILE, folder / KEY_FILE


def load_identity(settings: Settings, name: str) -> ServiceIdentity:
    """The identity of service ``name`` under ``settings``; SettingsError saying what to do when it has none."""
    if settings.grpc_insecure:
        if not is_local_development(settings.public_url):
            raise SettingsError(
                f"{name} refuses to start: GRPC_INSECURE=true turns off the services' certificates, so any pod could "
                f"call any service as anyone; it is for local development only, but PUBLIC_URL ({settings.public_url}) "
                "is not this machine. Mount the service's certificate in GRPC_TLS_DIR instead.")
        log.warning("gRPC in plaintext: services do not prove who they are and every method is open to every "
                    "local process (GRPC_INSECURE=true, local development only)", service=name)
        return ServiceIdentity(name)
    ca, cert, key = identity_files(settings.grpc_tls_dir, name)
    missing = [str(path) for path in (ca, cert, key) if not path.is_file()]
    if missing:
        raise SettingsError(
            f"{name} has no service certificate: {', '.join(missing)} not found. Run `postmanctl certs` (make run "
            f"does), mount the service's certificate Secret at {settings.grpc_tls_dir / name}, or set GRPC_TLS_DIR.")
    try:
        return ServiceIdentity(name, ca.read_bytes(), cert.read_bytes(), key.read_bytes())
    except OSError as exc:
        raise SettingsError(f"{name} cannot read its service certificate in {ca.parent}: {exc.strerror}") from None

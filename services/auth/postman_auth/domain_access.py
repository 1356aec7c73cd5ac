"""DOMAIN_ALLOWLIST at every use of an account, not only when a password is asked for.

Taking a domain off the list is how an installation stops an agency (or a domain it no longer trusts) from using
Postman; that must reach the people already signed in and the API keys already issued. So the allowlist is checked
when a password is asked for, when it is typed, whenever a session is resolved and whenever an API key authenticates,
and an address it no longer allows is refused with ``unauthorized`` (403): the credential is genuine, its holder is
not allowed. Nothing is revoked, so putting the domain back restores every live session and key.
"""

from __future__ import annotations

from postman_auth.allowlist import DomainAllowlist
from postman_shared.grpc.errors import ErrorCode, ServiceError
from postman_shared.logging import get_logger

log = get_logger(component="domain-access")


def not_allowed_message(email: str) -> str:
    return (f"The address {email} is not allowed to use Postman: its domain is not among this installation's "
            "allowed domains. Use your agency email address, or ask your administrator.")


class DomainAccess:
    def __init__(self, allowlist: DomainAllowlist) -> None:
        self._allowlist = allowlist

    def is_allowed(self, email: str) -> bool:
        return self._allowlist.is_allowed(email)

    def ensure_allowed(self, email: str, use: str, **ids: object) -> None:
        """Raises ``unauthorized`` (and logs it with ``use`` and the ids) when the address is no longer allowed."""
        if self._allowlist.is_allowed(email):
            return
        log.warning("refused: the address's domain is not allowed", use=use, email_domain=email.rpartition("@")[2],
                    **ids)
        raise ServiceError(ErrorCode.UNAUTHORIZED, not_allowed_message(email))

"""Which email addresses may sign in: DOMAIN_ALLOWLIST, and a strict reading of the address itself.

The setting is a ``;``-separated list of entries:

- ``.gov.sg`` allows every domain that *ends in* ``.gov.sg``: ``tech.gov.sg``, ``a.b.gov.sg``. It does not allow
  ``gov.sg`` itself (add ``@gov.sg`` for that), and never ``gov.sg.evil.com``, ``evil-gov.sg`` or ``evilgov.sg``.
- ``@agency.com`` allows exactly the domain ``agency.com``, not its subdomains.

Empty entries and spaces around entries are ignored; anything else is a configuration error.

Addresses are read strictly, because a look-alike that a person would read as ``gov.sg`` must not pass: after
trimming surrounding spaces the address must be ASCII only (so Cyrillic ``о``, fullwidth ``ｇ``, Latin ``ɡ`` or the
Kelvin sign, which lower-cases to ``k``, are all refused), contain exactly one ``@`` with a non-empty local part,
and a domain of dot-separated labels of letters, digits and hyphens (a label neither starts nor ends with a hyphen),
with no trailing dot. Comparison is on the lower-cased address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from postman_shared.settings import SettingsError

_LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MAX_ADDRESS_LENGTH = 320


def normalise_address(email: str) -> str:
    """The form every address is stored and compared in: surrounding spaces removed, lower-cased."""
    return email.strip().lower()


def _is_domain(domain: str, min_labels: int = 2) -> bool:
    if not domain or len(domain) > 253:
        return False
    labels = domain.split(".")
    return len(labels) >= min_labels and all(_LABEL.match(label) for label in labels)


def split_address(email: str) -> tuple[str, str] | None:
    """(local part, domain) of a well-formed address, lower-cased, or None when the address is malformed."""
    trimmed = email.strip()
    # ASCII is checked before lower-casing: some non-ASCII letters (the Kelvin sign) lower-case to ASCII ones.
    if not trimmed.isascii() or len(trimmed) > MAX_ADDRESS_LENGTH:
        return None
    address = trimmed.lower()
    if address.count("@") != 1:
        return None
    local, domain = address.split("@")
    if not _LOCAL_PART.match(local) or not _is_domain(domain):
        return None
    return local, domain


def is_well_formed(email: str) -> bool:
    return split_address(email) is not None


@dataclass(frozen=True)
class DomainAllowlist:
    suffixes: tuple[str, ...]  # ".gov.sg": the domain must end with it
    exact_domains: tuple[str, ...]  # "agency.com": the domain must equal it

    @classmethod
    def parse(cls, setting: str, name: str = "DOMAIN_ALLOWLIST") -> "DomainAllowlist":
        """Reads DOMAIN_ALLOWLIST (or another setting of its syntax, called ``name``: EMAIL_MASTHEAD_DOMAINS); raises
        SettingsError naming the entry that cannot be understood."""
        suffixes: list[str] = []
        exact: list[str] = []
        for raw in setting.split(";"):
            entry = raw.strip().lower()
            if not entry:
                continue
            marker, domain = entry[0], entry[1:]
            if marker not in ".@" or not domain.isascii() or not _is_domain(domain, 1 if marker == "." else 2):
                raise SettingsError(
                    f"{name} entry {raw.strip()!r} is not understood: use '.example.gov.sg' for a "
                    "domain's subdomains or '@example.com' for exactly one domain"
                )
            if marker == ".":
                suffixes.append("." + domain)
            else:
                exact.append(domain)
        return cls(tuple(suffixes), tuple(exact))

    def is_allowed(self, email: str) -> bool:
        """True when the address is well formed and its domain is allowed (see the module docstring)."""
        parts = split_address(email)
        if parts is None:
            return False
        domain = parts[1]
        return domain in self.exact_domains or any(domain.endswith(suffix) for suffix in self.suffixes)

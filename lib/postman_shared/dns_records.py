"""DNS lookups through dnspython, shared by sender verification (auth: DKIM CNAMEs) and ``postmanctl
check-domain`` (SPF, DKIM, DMARC): the system's resolver, or one server ``host[:port]`` (``DNS_NAMESERVER``, or the
command's ``--nameserver``). The resolver is made on first use, so a machine without a resolver configuration fails
only when it is asked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (name, record type) -> the answers as text: TXT strings joined, other types as their text without the final dot.
Lookup = Callable[[str, str], list[str]]


class DnsUnavailable(Exception):
    """DNS could not be asked (as opposed to: it answered that there is no such record)."""


def resolver_lookup(nameserver: str = "", timeout: float = 5.0) -> Lookup:
    import dns.exception
    import dns.resolver

    made: list[Any] = []

    def resolver() -> Any:
        if not made:
            found = dns.resolver.Resolver(configure=not nameserver)
            if nameserver:
                host, _, port = nameserver.rpartition(":") if nameserver.count(":") == 1 else (nameserver, "", "")
                found.nameservers = [host]
                found.port = int(port) if port else 53
            found.lifetime = timeout
            made.append(found)
        return made[0]

    def lookup(name: str, rdtype: str) -> list[str]:
        try:
            answer = resolver().resolve(name, rdtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.Timeout as exc:
            raise DnsUnavailable(f"no answer from DNS for {name} {rdtype} within {timeout:.0f} s") from exc
        except (dns.resolver.NoNameservers, dns.resolver.NoResolverConfiguration) as exc:
            raise DnsUnavailable(f"DNS could not be asked for {name} {rdtype}") from exc
        if rdtype == "TXT":
            return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]
        return [record.to_text().rstrip(".") for record in answer]

    return lookup

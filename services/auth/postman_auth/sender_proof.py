"""What SES and DNS say about an address before it may be used as a sender (``EMAIL_TRANSPORT=ses``).

SES sends only from identities it holds verified, and receivers trust a message only when its DKIM signature matches
the From's domain. So an address is accepted when SES (the SESv2 ``GetEmailIdentity`` of the address, else of its
domain) holds the identity verified with DKIM signing succeeding, and when every DKIM CNAME SES gave it still
resolves where SES says (``<token>._domainkey.<domain>`` to ``<token>.dkim.amazonses.com``): SES checks the records
only now and then, so a record removed since would make every message fail DMARC at the receivers.

Whether the address is the user's is a separate question (``sender_addresses``): only an identity of the address
itself, which SES verified by a link mailed to it, proves that; a verified domain proves only that the platform may
send for the domain.

Both lookups are adapters passed in (boto3's client, dnspython's resolver): tests give a local SES (moto, or the
SESv2 fake) and a local DNS server or a function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from postman_shared.dns_records import DnsUnavailable, resolver_lookup
from postman_shared.grpc.errors import ErrorCode, ServiceError
from postman_shared.logging import get_logger

SES_DKIM_DOMAIN = "dkim.amazonses.com"

log = get_logger(component="sender-proof")

# A name's CNAME targets, lower-cased without the final dot; [] when there is none. Raises ServiceError
# (service_unavailable) when DNS cannot be asked.
CnameLookup = Callable[[str], list[str]]


class SesIdentities(Protocol):
    def get(self, identity: str) -> Mapping[str, Any] | None:
        """SESv2 ``GetEmailIdentity`` of an address or domain; None when SES has no such identity."""
        ...


@dataclass(frozen=True)
class Proven:
    """SES may send from the address with DKIM; ``own_identity``: SES holds the address itself verified."""

    own_identity: bool


def _verified(identity: Mapping[str, Any]) -> bool:
    # VerificationStatus is SESv2's newer field; VerifiedForSendingStatus the one every identity has.
    return bool(identity.get("VerifiedForSendingStatus")) or identity.get("VerificationStatus") == "SUCCESS"


def _dkim_succeeds(identity: Mapping[str, Any]) -> bool:
    dkim = identity.get("DkimAttributes") or {}
    return bool(dkim.get("SigningEnabled")) and dkim.get("Status") == "SUCCESS"


def _cannot_use(message: str) -> ServiceError:
    """The address may not be a sender yet: the same refusal (``invalid_from_address``) as a From the rule refuses."""
    return ServiceError(ErrorCode.INVALID_FROM_ADDRESS, message)


class SesProof:
    def __init__(self, identities: SesIdentities, resolve_cname: CnameLookup) -> None:
        self._identities = identities
        self._resolve_cname = resolve_cname

    def check(self, address: str) -> Proven:
        """Proven, or ServiceError(invalid_from_address) saying what SES or DNS still lacks."""
        domain = address.rpartition("@")[2]
        own = self._identities.get(address)
        domain_identity = self._identities.get(domain)
        candidates = [(name, found) for name, found in ((address, own), (domain, domain_identity)) if found]
        if not any(_verified(found) for _, found in candidates):
            raise _cannot_use(f"{address} cannot be sent from yet: neither it nor {domain} is a "
                              "verified identity in Amazon SES. Ask the platform team to verify "
                              f"{domain} (with DKIM) in SES, then try again")
        signing = [(name, found) for name, found in candidates if _verified(found) and _dkim_succeeds(found)]
        if not signing:
            raise _cannot_use(f"{address} cannot be sent from yet: DKIM signing of {domain} is not "
                              "verified in Amazon SES. Publish the DKIM records SES gave the domain "
                              "and wait for SES to verify them, then try again")
        name, identity = signing[0]
        self._check_dkim_records(address, domain, identity)
        log.info("sender address proven by SES", domain=domain, identity_type="address" if name == address
                 else "domain")
        return Proven(own_identity=own is not None and _verified(own))

    def _check_dkim_records(self, address: str, domain: str, identity: Mapping[str, Any]) -> None:
        dkim = identity.get("DkimAttributes") or {}
        tokens = [str(token).lower() for token in dkim.get("Tokens") or []]
        if dkim.get("SigningAttributesOrigin", "AWS_SES") != "AWS_SES":
            return  # the agency's own key (BYODKIM): a TXT record SES has just verified; nothing of SES's to match
        if not tokens:
            raise _cannot_use(f"{address} cannot be sent from: SES gives no DKIM records for {domain} "
                              "to check. Ask the platform team to look at the domain's identity")
        for token in tokens:
            name = f"{token}._domainkey.{domain}"
            wanted = f"{token}.{SES_DKIM_DOMAIN}"
            found = self._resolve_cname(name)
            if wanted not in found:
                seen = f"it points to {found[0]}" if found else "there is no such record"
                raise _cannot_use(f"{address} cannot be sent from: the DKIM record {name} must be a "
                                  f"CNAME to {wanted}, but {seen}. Publish it in {domain}'s DNS, "
                                  "then try again")


class Boto3Identities:
    """SESv2 through boto3 (the ``sesv2`` client of SES_REGION / SES_ENDPOINT_URL)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def get(self, identity: str) -> Mapping[str, Any] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._client.get_email_identity(EmailIdentity=identity)  # type: ignore[no-any-return]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NotFoundException":
                return None
            log.warning("SES refused GetEmailIdentity", code=error.response.get("Error", {}).get("Code"))
            raise ServiceError(ErrorCode.SERVICE_UNAVAILABLE, "Amazon SES could not be asked about the address just "
                               "now; try again shortly") from None
        except BotoCoreError as error:
            log.warning("SES unreachable", error=type(error).__name__)
            raise ServiceError(ErrorCode.SERVICE_UNAVAILABLE, "Amazon SES could not be asked about the address just "
                               "now; try again shortly") from None


def dns_cname_lookup(nameserver: str = "", timeout: float = 5.0) -> CnameLookup:
    """CNAME lookups through dnspython (``postman_shared.dns_records``): the system's resolver, or ``host[:port]``
    (DNS_NAMESERVER)."""
    lookup_records = resolver_lookup(nameserver, timeout)

    def lookup(name: str) -> list[str]:
        try:
            return [target.lower() for target in lookup_records(name, "CNAME")]
        except DnsUnavailable:
            log.warning("DNS could not be asked", name=name)
            raise ServiceError(ErrorCode.SERVICE_UNAVAILABLE, f"DNS could not be asked for {name} just now; try again "
                                                              "shortly") from None

    return lookup

"""``postmanctl check-domain DOMAIN``: what an agency's domain still needs before the platform sends email from it.

Three things decide whether a recipient's mail server trusts an email "from" an agency's domain:

- SPF (a TXT record ``v=spf1 ...`` at the domain): the servers allowed to send for it. It must include the relay
  this platform sends through (Amazon SES: ``include:amazonses.com``) and end with ``-all`` or ``~all``, never
  ``+all``; there must be exactly one.
- DKIM (a key published at ``<selector>._domainkey.<domain>``, for SES three CNAMEs to ``…dkim.amazonses.com``):
  the relay signs each message and receivers check the signature against it.
- DMARC (a TXT record ``v=DMARC1; p=...`` at ``_dmarc.<domain>``): what receivers do with mail that fails both;
  ``p=none`` only monitors, ``quarantine`` or ``reject`` protect the domain from being spoofed.

Each check answers OK, WARN (works, could be better) or MISSING (must be fixed), with the record to publish.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from postman_shared.dns_records import DnsUnavailable, Lookup, resolver_lookup

OK, WARN, MISSING = "OK", "WARN", "MISSING"
SES_SPF_INCLUDE = "amazonses.com"


@dataclass(frozen=True)
class Finding:
    check: str  # SPF | DKIM <selector> | DMARC
    status: str  # OK | WARN | MISSING
    detail: str  # what was found, and what to publish when it is not right


def check_spf(domain: str, lookup: Lookup, include: str = SES_SPF_INCLUDE) -> Finding:
    records = [text for text in lookup(domain, "TXT") if text.lower().startswith("v=spf1")]
    wanted = f'"v=spf1 include:{include} -all"'
    if not records:
        return Finding("SPF", MISSING, f"no SPF record at {domain}: publish a TXT record {wanted} (with your "
                                       "other senders' includes)")
    if len(records) > 1:
        return Finding("SPF", MISSING, f"{len(records)} SPF records at {domain}: receivers treat that as an error; "
                                       "merge them into one")
    terms = records[0].split()
    if f"include:{include}".lower() not in (term.lower() for term in terms):
        return Finding("SPF", MISSING, f"the SPF record {records[0]!r} does not include the relay: add "
                                       f"include:{include}")
    last = terms[-1].lower() if terms else ""
    if last in ("+all", "all"):
        return Finding("SPF", MISSING, f"the SPF record {records[0]!r} ends with {terms[-1]}: anyone may send as "
                                       f"{domain}; end it with -all")
    if last not in ("-all", "~all"):
        return Finding("SPF", WARN, f"the SPF record {records[0]!r} does not end with -all or ~all")
    return Finding("SPF", OK, records[0])


def check_dkim(domain: str, selectors: Sequence[str], lookup: Lookup) -> list[Finding]:
    if not selectors:
        return [Finding("DKIM", MISSING, "no DKIM selector to check: give --selector (for SES, the three tokens "
                                         "of the domain's identity), or run with EMAIL_TRANSPORT=ses to ask SES")]
    found = []
    for selector in selectors:
        name = f"{selector}._domainkey.{domain}"
        targets = lookup(name, "CNAME")
        keys = [text for text in lookup(name, "TXT") if "p=" in text.replace(" ", "")]
        if targets:
            found.append(Finding(f"DKIM {selector}", OK, f"{name} is a CNAME to {targets[0]}"))
        elif keys:
            revoked = any("p=;" in key.replace(" ", "") or key.replace(" ", "").endswith("p=") for key in keys)
            detail = f"{name} publishes a revoked key (empty p=)" if revoked else f"{name} publishes a key"
            found.append(Finding(f"DKIM {selector}", MISSING if revoked else OK, detail))
        else:
            found.append(Finding(f"DKIM {selector}", MISSING, f"nothing at {name}: publish the CNAME (or key) the "
                                                              "relay gave for this selector"))
    return found


def check_dmarc(domain: str, lookup: Lookup) -> Finding:
    name = f"_dmarc.{domain}"
    records = [text for text in lookup(name, "TXT") if text.lower().replace(" ", "").startswith("v=dmarc1")]
    wanted = f'"v=DMARC1; p=reject; rua=mailto:dmarc-reports@{domain}"'
    if not records:
        return Finding("DMARC", MISSING, f"no DMARC record at {name}: publish a TXT record {wanted} (start with "
                                         "p=none to watch the reports, then move to quarantine or reject)")
    tags = dict(part.strip().partition("=")[::2] for part in records[0].split(";") if "=" in part)
    policy = tags.get("p", "").strip().lower()
    if policy in ("reject", "quarantine"):
        return Finding("DMARC", OK, records[0])
    if policy == "none":
        return Finding("DMARC", WARN, f"{records[0]!r}: p=none only monitors; once the reports show only your own "
                                      "senders, move to p=quarantine or p=reject")
    return Finding("DMARC", MISSING, f"{records[0]!r} has no valid policy (p=none, quarantine or reject)")


def check_domain(domain: str, selectors: Sequence[str], lookup: Lookup,
                 include: str = SES_SPF_INCLUDE) -> list[Finding]:
    domain = domain.strip().lower().rstrip(".")
    return [check_spf(domain, lookup, include), *check_dkim(domain, selectors, lookup), check_dmarc(domain, lookup)]


def dns_lookup(nameserver: str = "", timeout: float = 5.0) -> Lookup:
    """Lookups through dnspython: the system's resolver, or ``host[:port]``."""
    return resolver_lookup(nameserver, timeout)


LookupFailed = DnsUnavailable


def ses_dkim_tokens(domain: str, region: str, endpoint_url: str = "") -> list[str]:
    """The DKIM selectors (tokens) SES gave the domain's identity; empty when SES has no such identity."""
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client("sesv2", region_name=region, endpoint_url=endpoint_url or None)
    try:
        identity = client.get_email_identity(EmailIdentity=domain)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NotFoundException":
            return []
        raise
    tokens = list(identity.get("DkimAttributes", {}).get("Tokens", []))
    if tokens:
        return tokens
    # The same identity through SES's first API, which lists Easy DKIM tokens for identities verified there.
    classic = boto3.client("ses", region_name=region, endpoint_url=endpoint_url or None)
    attributes = classic.get_identity_dkim_attributes(Identities=[domain])["DkimAttributes"]
    return list(attributes.get(domain, {}).get("DkimTokens", []))

"""``postmanctl check-domain DOMAIN``: reports what the domain's SPF, DKIM and DMARC records still need
(``domain_check``), so that a new agency's email is trusted from the first campaign. Exit status 0 when nothing is
missing, 1 when something must be published, 2 when DNS could not be asked."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from postman_ctl import domain_check
from postman_shared.settings import Settings


def _domain(text: str) -> str:
    domain = text.strip().lower().rstrip(".")
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 253 or not all(
            label and len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
            and not label.startswith("-") and not label.endswith("-") for label in labels):
        raise argparse.ArgumentTypeError(f"expected a domain name such as moh.gov.sg, got {text!r}")
    return domain


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("check-domain", help="report what a sending domain's SPF, DKIM and DMARC need")
    parser.add_argument("domain", type=_domain)
    parser.add_argument("--selector", action="append", default=[], metavar="SELECTOR",
                        help="a DKIM selector to check (repeat it); default with EMAIL_TRANSPORT=ses: the tokens of "
                             "the domain's SES identity")
    parser.add_argument("--spf-include", default=domain_check.SES_SPF_INCLUDE, metavar="DOMAIN",
                        help=f"the relay's SPF include (default {domain_check.SES_SPF_INCLUDE})")
    parser.add_argument("--nameserver", default="", metavar="HOST[:PORT]",
                        help="ask this DNS server instead of the system's resolver")
    parser.add_argument("--json", action="store_true", help="one JSON object per check")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    selectors = list(args.selector)
    if not selectors and settings.email_transport == "ses":
        selectors = domain_check.ses_dkim_tokens(args.domain, settings.ses_region, settings.ses_endpoint_url)
    try:
        findings = domain_check.check_domain(args.domain, selectors, domain_check.dns_lookup(args.nameserver),
                                             args.spf_include)
    except domain_check.LookupFailed as exc:
        print(f"postmanctl: {exc}", file=sys.stderr)
        return 2
    for finding in findings:
        if args.json:
            print(json.dumps({"check": finding.check, "status": finding.status, "detail": finding.detail}))
        else:
            print(f"{finding.status:<8} {finding.check:<24} {finding.detail}")
    missing = [f for f in findings if f.status == domain_check.MISSING]
    if not args.json:
        print(f"\n{args.domain}: " + ("ready to send from" if not missing else
                                      f"{len(missing)} thing(s) to publish before sending from it"))
    return 1 if missing else 0

"""``postmanctl agency``: the agencies whose name and logo their officers' campaign emails carry, and the email
domains that belong to each (through ``postman_auth.operator``, on the auth database, so it works while the
services are down); every change is recorded in the audit trail with ip "cli". Exit status 0 done, 2 refused
(the reason on stderr)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from postman_auth import operator as auth
from postman_shared.db import Database
from postman_shared.settings import Settings


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("agency", help="agencies: name, logo and email domains of their officers")
    actions = parser.add_subparsers(dest="agency_command", required=True)

    add = actions.add_parser("add", help="add an agency")
    add.add_argument("name")
    add.add_argument("--logo", default="", metavar="HTTPS-URL", help="the https:// URL of the agency's logo image")
    add.add_argument("--domain", action="append", default=[], metavar="DOMAIN",
                     help="an email domain of its officers, e.g. moh.gov.sg (repeat it)")
    add.set_defaults(run=_add)

    listing = actions.add_parser("list", help="every agency with its logo and domains")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=_list)

    logo = actions.add_parser("set-logo", help="set (or, with '', remove) an agency's logo")
    logo.add_argument("name")
    logo.add_argument("logo", metavar="HTTPS-URL")
    logo.set_defaults(run=_set_logo)

    domain = actions.add_parser("add-domain", help="an email domain whose officers belong to the agency")
    domain.add_argument("name")
    domain.add_argument("domain")
    domain.set_defaults(run=_add_domain)


def _database(settings: Settings) -> Database:
    return Database(settings.database_url, pool_size=1)


def _add(args: argparse.Namespace, settings: Settings) -> int:
    agency = auth.add_agency(_database(settings), args.name, args.logo, args.domain)
    name, logo = agency.name, agency.logo_uri
    domains = f" with the domain(s) {', '.join(args.domain)}" if args.domain else ""
    print(f"postmanctl: agency {name!r} added{domains}" + ("" if logo else " (no logo)"), file=sys.stderr)
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    found = auth.list_agencies(_database(settings))
    for agency in found:
        if args.json:
            print(json.dumps({"id": agency.id, "name": agency.name, "logo_uri": agency.logo_uri or None,
                              "domains": agency.domains}, ensure_ascii=False))
        else:
            print("  ".join([agency.name, agency.logo_uri or "(no logo)", ", ".join(agency.domains) or "(no domain)"]))
    print(f"postmanctl: {len(found)} agenc{'y' if len(found) == 1 else 'ies'}; an address in no agency's domain "
          f"gets {settings.default_agency_name!r} (DEFAULT_AGENCY_NAME)", file=sys.stderr)
    return 0


def _set_logo(args: argparse.Namespace, settings: Settings) -> int:
    agency = auth.set_agency_logo(_database(settings), args.name, args.logo)
    name, logo = agency.name, agency.logo_uri
    print(f"postmanctl: {name!r} " + (f"now shows the logo {logo}" if logo else "has no logo now"), file=sys.stderr)
    return 0


def _add_domain(args: argparse.Namespace, settings: Settings) -> int:
    done = auth.add_agency_domain(_database(settings), args.name, args.domain)
    belongs = "now belongs to" if done.added else "already belongs to"
    print(f"postmanctl: {done.domain} {belongs} {args.name!r}", file=sys.stderr)
    return 0

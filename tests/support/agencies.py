"""An officer of an agency of their own: the agency (name, logo, one domain of its own) and the user, written
straight into auth's tables as ``postmanctl agency`` and a first sign-in would."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from postman_auth import agencies, api_keys
from postman_shared.db import Database

LOGO = "https://www.example.gov.sg/images/logo.png"


@dataclass(frozen=True)
class Officer:
    user_id: int
    email: str
    agency: str
    domain: str
    logo_uri: str


def officer_of_new_agency(database: Database, name: str = "Ministry of Examples", logo_uri: str = LOGO,
                          local_part: str = "officer") -> Officer:
    """A new agency called ``name`` plus a unique suffix (names are unique), its own ``<x>.gov.sg`` domain, and an
    officer whose address is in it."""
    token = secrets.token_hex(4)
    domain = f"agency{token}.gov.sg"
    agency_name = f"{name} {token}"
    with database.unit_of_work() as session:
        agencies.add(session, agency_name, logo_uri, [domain], "test")
        user = api_keys.get_or_create_user(session, f"{local_part}@{domain}")
        return Officer(user.id, user.email, agency_name, domain, logo_uri)

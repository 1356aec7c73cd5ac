"""Agencies (issue 12): the name and logo every campaign email of their officers carries, and the email domains that
belong to each. A user's agency follows from their address: the agency of the longest agency domain the address is
in (``moh.gov.sg`` before ``gov.sg``; ``a@clinic.moh.gov.sg`` is in both). An address in no agency's domain gets
``DEFAULT_AGENCY_NAME`` and no logo.

Administrators keep the list with ``postmanctl agency`` (the functions below, each recorded in the audit trail in
its own transaction). A logo is an ``https`` URL: the image is fetched by the recipients' mail clients, so a
plain-http one would be refused or flagged as insecure by most of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postman_auth import audit
from postman_auth.allowlist import DomainAllowlist, _is_domain, normalise_address
from postman_auth.models import Agency, AgencyDomain, User
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, ServiceError

MAX_NAME = 255
MAX_LOGO_URI = 2048
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


@dataclass(frozen=True)
class AgencyLook:
    """What a user's campaign emails show of their agency."""

    name: str
    logo_uri: str  # "" when the agency has no logo
    known: bool  # the address is in an agency's domain
    masthead: bool  # the address is a government one (EMAIL_MASTHEAD_DOMAINS)


@dataclass(frozen=True)
class AgencyListing:
    id: int
    name: str
    logo_uri: str
    domains: list[str]


class AgencyDirectory:
    """Answers GetAgency: the settings it needs are read once, when the service starts."""

    def __init__(self, default_name: str, masthead_domains: str) -> None:
        self._default_name = default_name
        # A bad EMAIL_MASTHEAD_DOMAINS stops the service at start, with the entry named.
        self._masthead = DomainAllowlist.parse(masthead_domains, "EMAIL_MASTHEAD_DOMAINS")

    def of_user(self, session: Session, user_id: int) -> AgencyLook:
        email = session.scalar(select(User.email).where(User.id == user_id)) if user_id > 0 else None
        if email is None:
            return AgencyLook(self._default_name, "", known=False, masthead=False)
        return self.of_address(session, email)

    def of_address(self, session: Session, email: str) -> AgencyLook:
        masthead = self._masthead.is_allowed(email)
        domain = normalise_address(email).rpartition("@")[2]
        row = session.execute(
            select(Agency.name, Agency.logo_uri)
            .join(AgencyDomain, AgencyDomain.agency_id == Agency.id)
            .where(AgencyDomain.domain.in_(parent_domains(domain)))
            .order_by(func.length(AgencyDomain.domain).desc())
            .limit(1)
        ).first()
        if row is None:
            return AgencyLook(self._default_name, "", known=False, masthead=masthead)
        return AgencyLook(row.name, row.logo_uri or "", known=True, masthead=masthead)



def agency_of_user(database: Database, directory: AgencyDirectory, user_id: int) -> AgencyLook:
    """What the user's campaign emails show of their agency (GetAgency): ``directory.of_user``, read-only."""
    with database.session() as session:
        return directory.of_user(session, user_id)


def parent_domains(domain: str) -> list[str]:
    """``a.moh.gov.sg`` -> [a.moh.gov.sg, moh.gov.sg, gov.sg, sg]: every domain the address's domain is in."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels)) if labels[i]]


def checked_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME or _CONTROL.search(name):
        raise InvalidArgument(f"An agency's name is 1 to {MAX_NAME} characters of one line, got {name[:40]!r}")
    return name


def checked_logo_uri(uri: str) -> str:
    """An absolute https URL of at most 2,048 characters, without spaces, quotes or angle brackets; "" clears."""
    uri = uri.strip()
    if not uri:
        return ""
    parts = urlsplit(uri)
    if (parts.scheme.lower() != "https" or not parts.hostname or len(uri) > MAX_LOGO_URI or not uri.isascii()
            or any(c in uri for c in ' "\'<>\\`') or _CONTROL.search(uri)):
        raise InvalidArgument(f"The logo must be an https:// URL of an image (at most {MAX_LOGO_URI} characters, "
                              f"no spaces or quotes), got {uri[:80]!r}")
    return uri


def checked_domain(domain: str) -> str:
    domain = domain.strip().lower().removeprefix("@").rstrip(".")
    if not domain.isascii() or not _is_domain(domain):
        raise InvalidArgument(f"{domain!r} is not an email domain such as moh.gov.sg")
    return domain


def _find(session: Session, name: str) -> Agency:
    agency = session.scalars(select(Agency).where(func.lower(Agency.name) == checked_name(name).lower())
                             .with_for_update()).one_or_none()
    if agency is None:
        raise ServiceError(ErrorCode.NOT_FOUND, f"There is no agency called {name!r} (postmanctl agency list)")
    return agency


def add(session: Session, name: str, logo_uri: str, domains: Sequence[str], ip: str) -> Agency:
    """A new agency, with its logo and domains; a name that exists already (in any case) is refused."""
    name = checked_name(name)
    logo = checked_logo_uri(logo_uri)
    if session.scalar(select(Agency.id).where(func.lower(Agency.name) == name.lower())) is not None:
        raise InvalidArgument(f"There is already an agency called {name!r}")
    agency = Agency(name=name, logo_uri=logo or None)
    session.add(agency)
    session.flush()
    audit.record(session, "agency.added", target_type="agency", target_id=agency.id, ip=ip,
                 details={"name": name, "logo_uri": logo or None})
    for domain in domains:
        add_domain(session, name, domain, ip)
    return agency


def set_logo(session: Session, name: str, logo_uri: str, ip: str) -> Agency:
    agency = _find(session, name)
    logo = checked_logo_uri(logo_uri)
    previous, agency.logo_uri = agency.logo_uri, logo or None
    audit.record(session, "agency.logo_set", target_type="agency", target_id=agency.id, ip=ip,
                 details={"name": agency.name, "from": previous, "to": logo or None})
    return agency


def add_domain(session: Session, name: str, domain: str, ip: str) -> bool:
    """Puts the domain under the agency; False when it is there already. A domain of another agency is refused:
    it must be removed there first, so a typo never moves a whole domain's officers silently."""
    agency = _find(session, name)
    domain = checked_domain(domain)
    existing = session.get(AgencyDomain, domain, with_for_update=True)
    if existing is not None:
        if existing.agency_id == agency.id:
            return False
        owner = session.scalar(select(Agency.name).where(Agency.id == existing.agency_id))
        raise InvalidArgument(f"The domain {domain} belongs to {owner!r} already")
    session.add(AgencyDomain(domain=domain, agency_id=agency.id))
    audit.record(session, "agency.domain_added", target_type="agency", target_id=agency.id, ip=ip,
                 details={"name": agency.name, "domain": domain})
    return True


def listing(session: Session) -> list[AgencyListing]:
    """Every agency by name, each with its domains in order."""
    domains: dict[int, list[str]] = {}
    for agency_id, domain in session.execute(select(AgencyDomain.agency_id, AgencyDomain.domain)
                                             .order_by(AgencyDomain.domain)):
        domains.setdefault(agency_id, []).append(domain)
    return [AgencyListing(a.id, a.name, a.logo_uri or "", domains.get(a.id, []))
            for a in session.scalars(select(Agency).order_by(Agency.name))]

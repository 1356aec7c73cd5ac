"""Sender addresses in auth: proven by a confirmation link mailed to the address (single use, expiring, stored only as
a hash), or, with SES, checked against SES (moto, and the SESv2 fake for Easy DKIM's tokens) and DNS (a local DNS
server) first; listed, removed, and given to the services that check a From (GetVerifiedSenders)."""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import boto3
import pytest
from sqlalchemy import select, update

from postman.v1 import auth_pb2, auth_pb2_grpc
from postman_auth.models import AuditEvent, SenderAddress
from postman_shared.grpc.errors import ServiceError
from postman_shared.timestamps import utcnow
from tests.fakes.dns import FakeDns
from tests.fakes.ses import FakeSes, identity
from tests.integration.auth.conftest import Auth, new_address
from tests.support import service_identity
from tests.support.aws import local_aws
from tests.support.inprocess import running

TOKEN_IN_LINK = re.compile(r"/sender-addresses/confirm\?token=([0-9]+\.[A-Za-z0-9_-]{43})")


def _refusal(call, *args) -> ServiceError:
    with pytest.raises(ServiceError) as refused:
        call(*args)
    return refused.value


def verify(auth, user_id: int, email: str) -> auth_pb2.SenderAddress:
    return auth.call("VerifySenderAddress", auth_pb2.VerifySenderAddressRequest(user_id=user_id, email=email,
                                                                                ip="203.0.113.9"))


def confirm(auth, token: str, check_only: bool = False) -> auth_pb2.SenderAddress:
    return auth.call("ConfirmSenderAddress", auth_pb2.ConfirmSenderAddressRequest(token=token, ip="198.51.100.4",
                                                                                  check_only=check_only))


def verified(auth, user_id: int) -> list[str]:
    return list(auth.call("GetVerifiedSenders", auth_pb2.GetVerifiedSendersRequest(user_id=user_id)).emails)


def link_token(auth, address: str) -> str:
    email = auth.priority_email(address)
    assert email.subject == f"Confirm {address} as a sender address on Postman"
    found = TOKEN_IN_LINK.search(email.body)
    assert found, email.body
    return found.group(1)


def _row(database, row_id: int) -> SenderAddress:
    with database.session() as session:
        row = session.get(SenderAddress, row_id)
        session.expunge(row)
        return row


# --- the confirmation link (SMTP and the outbox) ----------------------------------------------------------------------

def test_an_address_is_verified_by_following_the_link_mailed_to_it_once(auth, database):
    owner = auth.sign_in()
    address = new_address()

    pending = verify(auth, owner.user.id, f"Clinic Team <{address.upper()}>")
    token = link_token(auth, address)

    assert (pending.email, pending.status, pending.method) == (address, "PENDING", "link")
    assert pending.HasField("confirm_expires_at") and not pending.HasField("verified_at")
    assert _row(database, pending.id).token_hash == hashlib.sha256(token.encode()).hexdigest()  # never the token
    assert verified(auth, owner.user.id) == []
    assert confirm(auth, token, check_only=True).status == "PENDING"  # the page before the button changes nothing

    done = confirm(auth, token)

    assert (done.id, done.status, done.method) == (pending.id, "VERIFIED", "link") and done.HasField("verified_at")
    assert verified(auth, owner.user.id) == [address]
    row = _row(database, pending.id)
    assert (row.token_hash, row.token_expires_at) == (None, None)
    assert _refusal(confirm, auth, token).code == "invalid_parameters"  # single use
    assert verify(auth, owner.user.id, address).status == "VERIFIED"  # asking again: nothing to do, no email
    with pytest.raises(AssertionError, match="no priority email"):
        auth.priority_email(address, timeout=0.5)
    with database.session() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.target_type == "sender_address",
                                                                  AuditEvent.target_id == str(pending.id))).all()
    assert sorted(actions) == ["sender.verification_requested", "sender.verified"]


@pytest.mark.parametrize("spoil", ["expired", "another_secret", "malformed", "unknown_id"])
def test_a_link_that_is_expired_altered_or_unknown_changes_nothing(auth, database, spoil):
    owner = auth.sign_in()
    address = new_address()
    pending = verify(auth, owner.user.id, address)
    token = link_token(auth, address)
    row_id, secret = token.split(".")
    if spoil == "expired":
        with database.unit_of_work() as session:
            session.execute(update(SenderAddress).where(SenderAddress.id == pending.id)
                            .values(token_expires_at=utcnow() - timedelta(seconds=1)))
    bad = {"expired": token, "another_secret": f"{row_id}.{'A' * 43}", "malformed": token + "x",
           "unknown_id": f"{int(row_id) + 10_000}.{secret}"}[spoil]

    refused = _refusal(confirm, auth, bad)

    assert refused.code == "invalid_parameters" and "does not work" in refused.message
    assert _row(database, pending.id).status == "PENDING" and verified(auth, owner.user.id) == []


def test_a_new_link_waits_a_minute_and_replaces_the_old_one(auth, database):
    owner = auth.sign_in()
    address = new_address()
    pending = verify(auth, owner.user.id, address)
    first = link_token(auth, address)

    too_soon = _refusal(verify, auth, owner.user.id, address)
    assert too_soon.code == "rate_limit" and too_soon.retry_after and "less than a minute ago" in too_soon.message

    with database.unit_of_work() as session:  # as if the first link had been mailed two minutes ago
        session.execute(update(SenderAddress).where(SenderAddress.id == pending.id)
                        .values(token_expires_at=SenderAddress.token_expires_at - timedelta(minutes=2)))
    verify(auth, owner.user.id, address)
    second = link_token(auth, address)

    assert _refusal(confirm, auth, first).code == "invalid_parameters"
    assert confirm(auth, second).status == "VERIFIED"


@pytest.mark.parametrize("value, words", [
    ("someone@gmail.com", "not in a domain allowed"),
    ("donotreply@mail.postman.gov.sg", "default address"),
    ("Postman <DONOTREPLY@mail.postman.gov.sg>", "default address"),
    ("me@mоh.gov.sg", "plain ASCII"),
    ('"ceo@moh.gov.sg" <x@moh.gov.sg>', "looks like an address"),
    ("a@moh.gov.sg, b@moh.gov.sg", "exactly one address"),
])
def test_an_address_that_cannot_be_a_sender_is_refused_and_nothing_is_mailed(auth, database, value, words):
    owner = auth.sign_in()
    refused = _refusal(verify, auth, owner.user.id, value)
    assert refused.code == "invalid_from_address" and words in refused.message
    assert auth.call("ListSenderAddresses", auth_pb2.ListSenderAddressesRequest(user_id=owner.user.id)).addresses == []


def test_addresses_are_each_users_own_and_removing_one_stops_it(auth):
    owner, other = auth.sign_in(), auth.sign_in()
    address = new_address()
    verify(auth, owner.user.id, address)
    found = confirm(auth, link_token(auth, address))

    assert verified(auth, other.user.id) == []  # another user's verified address is not theirs
    refused = _refusal(auth.call, "DeleteSenderAddress", auth_pb2.DeleteSenderAddressRequest(
        user_id=other.user.id, sender_address_id=found.id, ip="x"))
    assert refused.code == "not_found" and verified(auth, owner.user.id) == [address]

    removed = auth.call("DeleteSenderAddress", auth_pb2.DeleteSenderAddressRequest(
        user_id=owner.user.id, sender_address_id=found.id, ip="x"))

    assert removed.email == address and verified(auth, owner.user.id) == []
    listed = auth.call("ListSenderAddresses", auth_pb2.ListSenderAddressesRequest(user_id=owner.user.id))
    assert list(listed.addresses) == []


def test_the_same_address_is_proven_by_each_user_for_themselves(auth):
    first, second = auth.sign_in(), auth.sign_in()
    address = new_address()
    verify(auth, first.user.id, address)
    confirm(auth, link_token(auth, address))

    assert verify(auth, second.user.id, address).status == "PENDING"  # the first user's proof is not the second's
    assert verified(auth, second.user.id) == []


# --- with SES: SES and DNS are asked first ----------------------------------------------------------------------------

TOKENS = ("tok1abc", "tok2def", "tok3ghi")
CNAMES = {(f"{t}._domainkey.moh.gov.sg", "CNAME"): [f"{t}.dkim.amazonses.com"] for t in TOKENS}
MOH = {"moh.gov.sg": identity(tokens=TOKENS)}


@pytest.fixture
def aws_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@contextmanager
def auth_with_ses(settings, channel, endpoint: str, nameserver: str) -> Iterator[Auth]:
    """auth running with EMAIL_TRANSPORT=ses against ``endpoint`` and DNS at ``nameserver``."""
    ses_settings = replace(settings, email_transport="ses", ses_endpoint_url=endpoint, ses_region="ap-southeast-1",
                           dns_nameserver=nameserver)
    with running(ses_settings, "auth"):
        yield Auth(service_identity.stub(ses_settings.auth_addr, auth_pb2_grpc.AuthServiceStub), ses_settings, channel)


@pytest.fixture
def with_ses(settings, amqp_channel, aws_credentials):
    """``with with_ses(identities, cnames) as (auth, dns): ...``: auth, the SESv2 fake holding ``identities`` and a
    DNS server publishing ``cnames``."""
    @contextmanager
    def start(identities, cnames=CNAMES) -> Iterator[tuple[Auth, FakeDns]]:
        with FakeSes(identities=identities) as ses, FakeDns(cnames) as dns, \
                auth_with_ses(settings, amqp_channel, ses.endpoint_url, dns.address) as auth:
            yield auth, dns

    return start


def officer_at(auth, domain: str):
    return auth.sign_in(f"officer-{secrets.token_hex(4)}@{domain}")


def test_an_address_ses_holds_verified_with_dkim_is_verified_at_once_for_its_own_domain(with_ses):
    with with_ses({**MOH, "noreply@moh.gov.sg": identity("EMAIL_ADDRESS")}) as (auth, dns):
        owner = officer_at(auth, "moh.gov.sg")
        found = verify(auth, owner.user.id, "noreply@moh.gov.sg")
        assert (found.status, found.method) == ("VERIFIED", "ses")
        assert verified(auth, owner.user.id) == ["noreply@moh.gov.sg"]
        assert {(f"{t}._domainkey.moh.gov.sg", "CNAME") for t in TOKENS} <= set(dns.queries)


def test_an_officer_of_another_agency_must_still_follow_a_link(with_ses):
    with with_ses({**MOH, "noreply@moh.gov.sg": identity("EMAIL_ADDRESS")}) as (auth, _):
        outsider = officer_at(auth, "mof.gov.sg")
        found = verify(auth, outsider.user.id, "noreply@moh.gov.sg")
        assert (found.status, found.method) == ("PENDING", "link")
        assert confirm(auth, link_token(auth, "noreply@moh.gov.sg")).status == "VERIFIED"


def test_a_verified_domain_proves_the_platform_may_send_but_the_mailbox_still_needs_its_link(with_ses):
    with with_ses(MOH) as (auth, _):
        owner = officer_at(auth, "moh.gov.sg")
        found = verify(auth, owner.user.id, "clinic@moh.gov.sg")
        assert (found.status, found.method) == ("PENDING", "link")
        assert confirm(auth, link_token(auth, "clinic@moh.gov.sg")).status == "VERIFIED"


def test_a_dkim_cname_pointing_elsewhere_is_named(with_ses):
    cnames = {**CNAMES, ("tok2def._domainkey.moh.gov.sg", "CNAME"): ["tok2def.dkim.elsewhere.example"]}
    with with_ses(MOH, cnames) as (auth, _):
        refused = _refusal(verify, auth, officer_at(auth, "moh.gov.sg").user.id, "clinic@moh.gov.sg")
    assert refused.code == "invalid_from_address"
    assert "tok2def._domainkey.moh.gov.sg must be a CNAME to tok2def.dkim.amazonses.com" in refused.message
    assert "it points to tok2def.dkim.elsewhere.example" in refused.message


def test_a_missing_dkim_cname_is_named_and_nothing_is_mailed(with_ses):
    cnames = {key: value for key, value in CNAMES.items() if not key[0].startswith("tok3")}
    with with_ses(MOH, cnames) as (auth, _):
        refused = _refusal(verify, auth, officer_at(auth, "moh.gov.sg").user.id, "clinic@moh.gov.sg")
        with pytest.raises(AssertionError, match="no priority email"):
            auth.priority_email("clinic@moh.gov.sg", timeout=0.5)
    assert "tok3ghi._domainkey.moh.gov.sg" in refused.message and "there is no such record" in refused.message


def test_a_domain_whose_dkim_ses_has_not_verified_is_refused(with_ses):
    with with_ses({"moh.gov.sg": identity(dkim="PENDING", tokens=TOKENS)}) as (auth, _):
        refused = _refusal(verify, auth, officer_at(auth, "moh.gov.sg").user.id, "clinic@moh.gov.sg")
    assert "DKIM signing of moh.gov.sg is not verified in Amazon SES" in refused.message


def test_a_dns_server_that_does_not_answer_is_a_503(settings, amqp_channel, aws_credentials):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        with FakeSes(identities=MOH) as ses, \
                auth_with_ses(settings, amqp_channel, ses.endpoint_url, f"127.0.0.1:{silent.getsockname()[1]}") as auth:
            refused = _refusal(verify, auth, officer_at(auth, "moh.gov.sg").user.id, "clinic@moh.gov.sg")
    finally:
        silent.close()
    assert refused.code == "service_unavailable" and "DNS could not be asked" in refused.message


def test_against_moto_what_ses_does_not_hold_or_cannot_show_verified_with_dkim_is_refused(settings, amqp_channel,
                                                                                 aws_credentials):
    with local_aws() as endpoint, FakeDns(CNAMES) as dns, \
            auth_with_ses(settings, amqp_channel, endpoint, dns.address) as auth:
        sesv2 = boto3.client("sesv2", region_name="ap-southeast-1", endpoint_url=endpoint)
        owner = officer_at(auth, "moh.gov.sg")

        unknown = _refusal(verify, auth, owner.user.id, "clinic@moh.gov.sg")
        assert "neither it nor moh.gov.sg is a verified identity in Amazon SES" in unknown.message

        sesv2.create_email_identity(EmailIdentity="moh.gov.sg")  # verified, but DKIM not started
        no_dkim = _refusal(verify, auth, owner.user.id, "clinic@moh.gov.sg")
        assert "DKIM signing of moh.gov.sg is not verified" in no_dkim.message

        # DKIM signing verified, but SES lists no records to compare with DNS (moto leaves Easy DKIM's tokens out):
        # what cannot be checked is refused.
        sesv2.create_email_identity(EmailIdentity="mof.gov.sg", DkimSigningAttributes={
            "DomainSigningSelector": "agency", "DomainSigningPrivateKey": "a2V5"})
        unchecked = _refusal(verify, auth, officer_at(auth, "mof.gov.sg").user.id, "notices@mof.gov.sg")
        assert "SES gives no DKIM records for mof.gov.sg to check" in unchecked.message

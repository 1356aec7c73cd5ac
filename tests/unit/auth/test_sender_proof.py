"""What SES and DNS must say before an address may be a sender with EMAIL_TRANSPORT=ses (sender_proof), with SES's
answers and DNS lookups given as plain functions."""

from __future__ import annotations

import pytest

from postman_auth.sender_proof import SesProof
from postman_shared.grpc.errors import ServiceError
from tests.fakes.ses import identity

TOKENS = ("aaa111", "bbb222", "ccc333")
PUBLISHED = {f"{t}._domainkey.moh.gov.sg": [f"{t}.dkim.amazonses.com"] for t in TOKENS}


class Identities:
    def __init__(self, **found):
        self.found = {name.replace("_at_", "@").replace("_", "."): value for name, value in found.items()}
        self.asked: list[str] = []

    def get(self, name):
        self.asked.append(name)
        return self.found.get(name)


def proof(identities, records=PUBLISHED) -> SesProof:
    return SesProof(identities, lambda name: list(records.get(name, [])))


def refusal(checker: SesProof, address: str) -> str:
    with pytest.raises(ServiceError) as refused:
        checker.check(address)
    assert refused.value.code == "invalid_from_address"
    return refused.value.message


def test_a_domain_verified_with_dkim_whose_records_resolve_proves_the_platform_may_send_but_not_the_mailbox():
    found = proof(Identities(moh_gov_sg=identity(tokens=TOKENS))).check("clinic@moh.gov.sg")
    assert found.own_identity is False


def test_the_address_own_identity_says_the_mailbox_was_verified_in_ses():
    identities = Identities(moh_gov_sg=identity(tokens=TOKENS),
                            clinic_at_moh_gov_sg=identity("EMAIL_ADDRESS", tokens=TOKENS))
    assert proof(identities).check("clinic@moh.gov.sg").own_identity is True
    assert identities.asked == ["clinic@moh.gov.sg", "moh.gov.sg"]


def test_an_address_identity_not_yet_verified_does_not_count_as_its_own():
    identities = Identities(moh_gov_sg=identity(tokens=TOKENS),
                            clinic_at_moh_gov_sg=identity("EMAIL_ADDRESS", verified=False, dkim="NOT_STARTED"))
    assert proof(identities).check("clinic@moh.gov.sg").own_identity is False


@pytest.mark.parametrize("found, words", [
    ({}, "neither it nor moh.gov.sg is a verified identity"),
    ({"moh_gov_sg": identity(verified=False, tokens=TOKENS)}, "neither it nor moh.gov.sg is a verified identity"),
    ({"moh_gov_sg": identity(dkim="FAILED", tokens=TOKENS)}, "DKIM signing of moh.gov.sg is not verified"),
    ({"moh_gov_sg": identity(tokens=())}, "SES gives no DKIM records for moh.gov.sg"),
])
def test_what_ses_lacks_is_named(found, words):
    assert words in refusal(proof(Identities(**found)), "clinic@moh.gov.sg")


def test_every_dkim_record_must_point_where_ses_says():
    records = {**PUBLISHED, "bbb222._domainkey.moh.gov.sg": ["bbb222.dkim.amazonses.com.evil.example"]}
    message = refusal(proof(Identities(moh_gov_sg=identity(tokens=TOKENS)), records), "clinic@moh.gov.sg")
    assert "bbb222._domainkey.moh.gov.sg must be a CNAME to bbb222.dkim.amazonses.com" in message


def test_the_agencys_own_dkim_key_needs_no_cname_of_sess():
    identities = Identities(moh_gov_sg=identity(tokens=("agency",), origin="EXTERNAL"))
    assert proof(identities, records={}).check("clinic@moh.gov.sg").own_identity is False

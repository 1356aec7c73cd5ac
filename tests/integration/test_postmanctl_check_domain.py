"""``postmanctl check-domain`` through dnspython's real resolver against a local DNS server (tests/fakes/dns.py):
what an agency's domain still needs for SPF, DKIM and DMARC, and the exit status a script can act on."""

from __future__ import annotations

import json

import pytest

from postman_ctl import cli
from postman_ctl.domain_check import MISSING, OK, WARN, check_domain
from tests.fakes.dns import FakeDns

READY = {
    ("moh.gov.sg", "TXT"): ["v=spf1 include:_spf.google.com include:amazonses.com -all", "google-site-verification=x"],
    ("abc123._domainkey.moh.gov.sg", "CNAME"): ["abc123.dkim.amazonses.com"],
    ("def456._domainkey.moh.gov.sg", "CNAME"): ["def456.dkim.amazonses.com"],
    ("_dmarc.moh.gov.sg", "TXT"): ["v=DMARC1; p=reject; rua=mailto:dmarc@moh.gov.sg"],
}


def run(capsys, *argv):
    code = cli.main(["check-domain", *argv])
    return code, capsys.readouterr()


def test_a_domain_with_spf_dkim_and_dmarc_is_ready(capsys):
    with FakeDns(READY) as dns:
        code, out = run(capsys, "MOH.gov.sg.", "--nameserver", dns.address, "--selector", "abc123",
                        "--selector", "def456", "--json")
    findings = [json.loads(line) for line in out.out.splitlines()]
    assert code == 0, out
    assert [(f["check"], f["status"]) for f in findings] == [
        ("SPF", OK), ("DKIM abc123", OK), ("DKIM def456", OK), ("DMARC", OK)]
    assert ("moh.gov.sg", "TXT") in dns.queries and ("_dmarc.moh.gov.sg", "TXT") in dns.queries


def test_a_new_agency_is_told_what_to_publish(capsys):
    records = {("newagency.gov.sg", "TXT"): ["v=spf1 include:_spf.google.com ~all"],
               ("_dmarc.newagency.gov.sg", "TXT"): ["v=DMARC1; p=none"]}
    with FakeDns(records) as dns:
        code, out = run(capsys, "newagency.gov.sg", "--nameserver", dns.address, "--selector", "abc123")
    assert code == 1
    lines = out.out.splitlines()
    assert lines[0].startswith("MISSING  SPF") and "add include:amazonses.com" in lines[0]
    assert lines[1].startswith("MISSING  DKIM abc123") and "abc123._domainkey.newagency.gov.sg" in lines[1]
    assert lines[2].startswith("WARN     DMARC") and "p=quarantine or p=reject" in lines[2]
    assert "2 thing(s) to publish" in out.out


@pytest.mark.parametrize(("records", "status", "words"), [
    ({}, MISSING, 'publish a TXT record "v=spf1 include:amazonses.com -all"'),
    ({("x.gov.sg", "TXT"): ["v=spf1 include:amazonses.com -all", "v=spf1 -all"]}, MISSING, "2 SPF records"),
    ({("x.gov.sg", "TXT"): ["v=spf1 include:amazonses.com +all"]}, MISSING, "anyone may send"),
    ({("x.gov.sg", "TXT"): ["v=spf1 include:amazonses.com ?all"]}, WARN, "does not end with -all or ~all"),
])
def test_spf_problems_are_named(records, status, words):
    [spf, *_] = check_domain("x.gov.sg", ["s1"], lambda name, kind: records.get((name, kind), []))
    assert spf.status == status and words in spf.detail


def test_a_revoked_dkim_key_and_a_missing_dmarc_are_missing():
    records = {("s1._domainkey.x.gov.sg", "TXT"): ["v=DKIM1; p="]}
    _, dkim, dmarc = check_domain("x.gov.sg", ["s1"], lambda name, kind: records.get((name, kind), []))
    assert (dkim.status, dmarc.status) == (MISSING, MISSING)
    assert "revoked" in dkim.detail and "_dmarc.x.gov.sg" in dmarc.detail


def test_without_selectors_or_ses_the_dkim_check_says_how_to_give_them(capsys, monkeypatch):
    monkeypatch.setenv("EMAIL_TRANSPORT", "outbox")
    with FakeDns(READY) as dns:
        code, out = run(capsys, "moh.gov.sg", "--nameserver", dns.address)
    assert code == 1 and "give --selector" in out.out


def test_a_dns_server_that_does_not_answer_is_exit_status_2(capsys):
    import socket

    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        from postman_ctl import domain_check

        with pytest.raises(domain_check.LookupFailed, match="no answer"):
            domain_check.dns_lookup(f"127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)("x.gov.sg", "TXT")
    finally:
        silent.close()


def test_a_malformed_domain_is_refused_before_any_lookup(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["check-domain", "not a domain"])
    assert exit_.value.code == 2 and "expected a domain name" in capsys.readouterr().err


def test_with_ses_the_selectors_are_the_tokens_of_the_domains_identity(capsys, monkeypatch):
    import boto3

    from tests.support.aws import local_aws

    with local_aws() as endpoint:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "EMAIL_TRANSPORT": "ses", "SES_REGION": "ap-southeast-1",
                            "SES_ENDPOINT_URL": endpoint}.items():
            monkeypatch.setenv(name, value)
        boto3.client("sesv2", region_name="ap-southeast-1", endpoint_url=endpoint).create_email_identity(
            EmailIdentity="moh.gov.sg")
        tokens = boto3.client("ses", region_name="ap-southeast-1", endpoint_url=endpoint).verify_domain_dkim(
            Domain="moh.gov.sg")["DkimTokens"]
        assert len(tokens) == 3
        records = {("moh.gov.sg", "TXT"): ["v=spf1 include:amazonses.com -all"],
                   ("_dmarc.moh.gov.sg", "TXT"): ["v=DMARC1; p=quarantine"],
                   **{(f"{t}._domainkey.moh.gov.sg", "CNAME"): [f"{t}.dkim.amazonses.com"] for t in tokens[:-1]}}
        with FakeDns(records) as dns:
            code, out = run(capsys, "moh.gov.sg", "--nameserver", dns.address, "--json")
    findings = {f["check"]: f["status"] for f in map(json.loads, out.out.splitlines())}
    assert code == 1  # the last token's CNAME is not published yet
    assert findings == {"SPF": OK, **{f"DKIM {t}": OK for t in tokens[:-1]}, f"DKIM {tokens[-1]}": MISSING,
                        "DMARC": OK}

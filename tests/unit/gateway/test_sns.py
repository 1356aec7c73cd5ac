"""SNS signature checks without a network: certificates come from the injected fetch, messages from the fake's
signer (which signs the way SNS documents it)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from postman_gateway.callbacks.sns import NotFromSns, SnsVerifier
from tests.fakes.sns import TOPIC, FakeSns

AWS_CERT = "https://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-abc.pem"


@pytest.mark.parametrize("url, allowed", [
    (AWS_CERT, True),
    ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem", True),
    ("http://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-abc.pem", False),  # not https
    ("https://sns.ap-southeast-1.amazonaws.com.evil.example/x.pem", False),
    ("https://evil.example/sns.ap-southeast-1.amazonaws.com/x.pem", False),
    ("https://sns.ap-southeast-1.amazonaws.com:8443/x.pem", False),
    ("https://s3.amazonaws.com/x.pem", False),
    ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", False),  # a region not configured
])
def test_only_sns_hosts_of_the_configured_regions_are_fetched_from_by_default(url, allowed):
    assert SnsVerifier(regions=("ap-southeast-1", "cn-north-1")).is_sns_url(url) is allowed


@pytest.fixture
def fake():
    with FakeSns() as running:
        yield running


def verifier_for(fake: FakeSns, pem: bytes | None = None) -> tuple[SnsVerifier, list[str]]:
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return pem or fake.certificate_pem

    return SnsVerifier(fake.url_prefix, fetch=fetch), fetched


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_notification_with_a_subject_verifies_and_a_changed_subject_does_not(fake, version):
    verifier, fetched = verifier_for(fake)
    message = fake.notification(TOPIC, {"eventType": "Send"}, version=version, subject="SES event")

    verifier.verify(message)
    verifier.verify(message)
    assert len(fetched) == 1
    with pytest.raises(NotFromSns, match="does not match"):
        verifier.verify({**message, "Subject": "Another subject"})
    with pytest.raises(NotFromSns, match="does not match"):
        verifier.verify({k: v for k, v in message.items() if k != "Subject"})


@pytest.mark.parametrize("change, words", [
    ({"SignatureVersion": "3"}, "SignatureVersion"),
    ({"Type": "Mystery"}, "Type"),
    ({"Signature": "not base64!"}, "base64"),
    ({"SigningCertURL": AWS_CERT}, "SigningCertURL"),
])
def test_a_message_that_cannot_be_checked_is_refused(fake, change, words):
    verifier, _ = verifier_for(fake)
    with pytest.raises(NotFromSns, match=words):
        verifier.verify({**fake.notification(TOPIC, "{}"), **change})


def test_an_expired_certificate_is_refused(fake):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns")])
    past = datetime.now(timezone.utc) - timedelta(days=30)
    expired = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(fake.key.public_key())
               .serial_number(1).not_valid_before(past).not_valid_after(past + timedelta(days=1))
               .sign(fake.key, hashes.SHA256()))
    verifier, _ = verifier_for(fake, expired.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(NotFromSns, match="validity"):
        verifier.verify(fake.notification(TOPIC, "{}"))


def test_a_certificate_that_is_not_pem_is_refused(fake):
    verifier, _ = verifier_for(fake, b"<html>not a certificate</html>")
    with pytest.raises(NotFromSns, match="PEM"):
        verifier.verify(fake.notification(TOPIC, "{}"))

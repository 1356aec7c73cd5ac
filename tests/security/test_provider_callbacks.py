"""What providers' callbacks and the development outbox accept from a hostile network (issue 13, "Known holes").

- SNS: certificates only from SNS in a configured region, at SNS's own file name; a message signed more than an hour
  ago (or in the future) is refused; a replayed message id is dropped by sender-email; the route is rate-limited.
- Twilio: a receipt only the URL's HMAC vouches for (an API-key credential) counts only for a SID recorded here.
- The outbox: only for requests from this machine, whatever PUBLIC_URL says.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import REGISTRY

from postman_gateway.app import create_app
from postman_gateway.callbacks.sns import NotFromSns, SnsVerifier
from postman_sender_email.events import EventHandler
from postman_sender_email.models import EmailDelivery
from postman_sender_sms.models import SmsDelivery
from postman_sender_sms.receipts import MARK_FAILED_ATTEMPTS, ReceiptHandler
from postman_sender_sms.twilio_transport import TwilioAccount
from postman_shared.broker import Delivery, OutgoingMessage
from postman_shared.broker.topology import DELIVERY_EVENTS, SMS_STATUS_RETRY
from postman_shared.broker.waiting import ATTEMPT_HEADER
from postman_shared.callbacks import sms_status_path
from postman_shared.messages import EmailEvent, SmsStatusReport, inner_events
from tests.fakes.sns import TOPIC, FakeSns

REGION_CERT = "https://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"


def client_from(app, address: str):
    """A test client whose requests come from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


# --- SNS: where certificates come from ------------------------------------------------------------------------------

@pytest.mark.parametrize("url, allowed", [
    (REGION_CERT, True),
    (REGION_CERT.replace("ap-southeast-1", "us-east-1"), False),  # SNS, but not a region Postman uses
    (REGION_CERT.replace("9c6465fa7f48f5cacd23014631ec1136", "9C6465FA"), False),  # SNS names files in lowercase
    ("https://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-.pem", False),
    ("https://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-abc.pem.evil", False),
    ("https://sns.ap-southeast-1.amazonaws.com/x/SimpleNotificationService-abc.pem", False),
    ("https://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-ab/../x.pem", False),
    ("https://sns.ap-southeast-1.amazonaws.com/uploaded-by-someone.pem", False),
    ("https://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-abc.pem?x=1", False),
    ("https://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-abc.pem#x", False),
    ("https://user@sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-abc.pem", False),
    ("https://sns.ap-southeast-1.amazonaws.com:443/SimpleNotificationService-abc.pem", False),
    ("http://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-abc.pem", False),
    ("https://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-" + "a" * 100_000 + ".pem", False),
])
def test_certificates_come_only_from_sns_in_a_configured_region_at_its_own_file_name(url, allowed):
    assert SnsVerifier(regions=("ap-southeast-1",)).is_certificate_url(url) is allowed


def test_a_message_signed_with_a_certificate_of_another_region_is_refused_without_fetching_it():
    with FakeSns() as fake:
        fetched: list[str] = []
        verifier = SnsVerifier(regions=("ap-southeast-1",), fetch=lambda url: fetched.append(url) or
                               fake.certificate_pem)
        message = {**fake.notification(TOPIC, "{}"),
                   "SigningCertURL": REGION_CERT.replace("ap-southeast-1", "eu-west-1")}
        with pytest.raises(NotFromSns, match="configured region"):
            verifier.verify(message)
        assert fetched == []


def test_the_gateway_takes_its_regions_from_ses_region_and_the_accepted_topics(settings):
    from postman_gateway.callbacks import ses_events

    app = create_app(replace(settings, ses_region="eu-west-1", sns_cert_url_prefix="",
                             ses_events_topic_arns="arn:aws:sns:us-west-2:123456789012:postman-ses-events"))
    _, verifier = app.extensions[ses_events.EXTENSION]
    assert verifier.is_certificate_url(REGION_CERT.replace("ap-southeast-1", "eu-west-1"))
    assert verifier.is_certificate_url(REGION_CERT.replace("ap-southeast-1", "us-west-2"))
    assert not verifier.is_certificate_url(REGION_CERT)


# --- SNS: old messages, replays, floods ---------------------------------------------------------------------------

def _signed_at(fake: FakeSns, when: datetime) -> dict:
    """A notification SNS signed at ``when`` (the Timestamp is one of the signed fields)."""
    envelope = {"Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": TOPIC, "Message": "{}",
                "Timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}
    return fake.sign(envelope)


@pytest.mark.parametrize("age, refused", [
    (timedelta(minutes=59), False),
    (timedelta(minutes=61), True),
    (timedelta(days=30), True),
    (-timedelta(minutes=3), False),  # a clock a little ahead of ours
    (-timedelta(hours=1), True),  # signed "in the future"
])
def test_a_message_signed_more_than_an_hour_ago_is_refused(age, refused):
    with FakeSns() as fake:
        verifier = SnsVerifier(fake.url_prefix, fetch=lambda url: fake.certificate_pem)
        message = _signed_at(fake, datetime.now(timezone.utc) - age)
        if refused:
            with pytest.raises(NotFromSns, match="ago|future"):
                verifier.verify(message)
        else:
            verifier.verify(message)


def test_a_message_without_a_readable_timestamp_is_refused():
    with FakeSns() as fake:
        verifier = SnsVerifier(fake.url_prefix, fetch=lambda url: fake.certificate_pem)
        message = fake.sign({"Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": TOPIC,
                             "Message": "{}", "Timestamp": "yesterday"})
        with pytest.raises(NotFromSns, match="Timestamp"):
            verifier.verify(message)


class Published:
    def __init__(self) -> None:
        self.messages: list[OutgoingMessage] = []

    def publish(self, messages: list[OutgoingMessage]) -> None:
        self.messages.extend(messages)


def _event_delivery(event: EmailEvent, attempt: int = 1) -> Delivery:
    return Delivery(delivery_tag=1, message_id=event.message_id, redelivered=False,
                    body=json.dumps(event.to_dict()).encode(),
                    headers={ATTEMPT_HEADER: attempt} if attempt > 1 else {})


def test_a_replayed_sns_message_is_applied_once(database):
    recipient_id = secrets.randbelow(10**9) + 1
    ses_id = f"ses-{secrets.token_hex(8)}"
    with database.unit_of_work() as session:
        session.add(EmailDelivery(message_id=str(recipient_id), campaign_id=77, recipient_id=recipient_id,
                                  status="SENT", provider_message_id=ses_id))
    published = Published()
    handler = EventHandler(database, published)  # type: ignore[arg-type]
    complaint = EmailEvent(provider_message_id=ses_id, event_type="Complaint", occurred_at="2026-12-05T01:00:00Z",
                           complaint_type="abuse", sns_message_id=str(uuid.uuid4()))

    handler([_event_delivery(complaint)])
    first = [m for m in published.messages if m.routing_key == DELIVERY_EVENTS]
    published.messages.clear()
    handler([_event_delivery(complaint)])  # the same SNS message posted again
    handler([_event_delivery(complaint), _event_delivery(complaint)])
    replayed = list(published.messages)
    handler([_event_delivery(complaint, attempt=2)])  # this sender's own retry is not a replay

    assert [e["status"] for m in first for e in inner_events(m.body)] == ["COMPLAINT"]  # type: ignore[arg-type]
    assert replayed == []
    assert [e["status"] for m in published.messages
            for e in inner_events(m.body)] == ["COMPLAINT"]  # type: ignore[arg-type]
    # Another handler (another replica) shares the memory: it is the database.
    other = Published()
    EventHandler(database, other)([_event_delivery(complaint)])  # type: ignore[arg-type]
    assert other.messages == []


def test_the_sns_route_is_rate_limited_per_client_ip(settings):
    app = create_app(replace(settings, ses_events_topic_arns=TOPIC, sns_ip_limit_per_minute=3))
    flooder = client_from(app, f"198.51.100.{secrets.randbelow(250) + 1}")

    answers = [flooder.post("/callbacks/ses/events", data="not sns", content_type="text/plain").status_code
               for _ in range(5)]

    assert answers == [403, 403, 403, 429, 429]
    other = client_from(app, "203.0.113.9")
    assert other.post("/callbacks/ses/events", data="not sns", content_type="text/plain").status_code == 403


# --- Twilio: receipts only the URL vouches for ------------------------------------------------------------------------

@dataclass
class ApiKeySenders:
    """The credential of an agency that gave an API key (SK...): its auth token is not known."""

    def account(self, credential_id: int) -> TwilioAccount:
        return TwilioAccount(account_sid="AC" + "1" * 32, api_key="SK" + "2" * 32, api_secret="secret",
                             messaging_service_sid="MG" + "3" * 32)


def _report(recipient_id: int, sid: str, status: str = "delivered") -> SmsStatusReport:
    url = "https://postman.agency.gov.sg" + sms_status_path(41, recipient_id, 5, "test-callback-signing-key")
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "1" * 32}
    return SmsStatusReport(campaign_id=41, recipient_id=recipient_id, credential_id=5, message_sid=sid,
                           status=status, error_code=None, url=url, params=params, signature="")


def _report_delivery(report: SmsStatusReport, attempt: int = 1) -> Delivery:
    return Delivery(delivery_tag=1, message_id=report.message_id, redelivered=False,
                    body=json.dumps(report.to_dict()).encode(),
                    headers={ATTEMPT_HEADER: attempt} if attempt > 1 else {})


def _unknown_sids() -> float:
    return REGISTRY.get_sample_value("postman_sms_receipts_total", {"outcome": "unknown_sid"}) or 0.0


def test_an_unsigned_receipt_naming_a_sid_never_recorded_is_never_counted(database):
    published = Published()
    handler = ReceiptHandler(ApiKeySenders(), database, published.publish)  # type: ignore[arg-type]
    invented = _report(secrets.randbelow(10**9) + 1, "SM" + secrets.token_hex(16))
    before = _unknown_sids()

    handler([_report_delivery(invented)])
    assert [m.routing_key for m in published.messages] == [SMS_STATUS_RETRY]  # waits: its batch may be uncommitted
    published.messages.clear()
    handler([_report_delivery(invented, attempt=MARK_FAILED_ATTEMPTS)])

    assert published.messages == []  # never a receipt, and it stops coming back
    assert _unknown_sids() - before == 1


def test_an_unsigned_receipt_counts_once_its_sid_is_recorded_for_that_recipient(database):
    published = Published()
    handler = ReceiptHandler(ApiKeySenders(), database, published.publish)  # type: ignore[arg-type]
    recipient_id, sid = secrets.randbelow(10**9) + 1, "SM" + secrets.token_hex(16)
    early = _report(recipient_id, sid)

    handler([_report_delivery(early)])
    assert [m.routing_key for m in published.messages] == [SMS_STATUS_RETRY]
    with database.unit_of_work() as session:  # the sender's batch is committed
        session.add(SmsDelivery(message_id=str(recipient_id), campaign_id=41, recipient_id=recipient_id,
                                status="SENT", provider_message_id=sid))
    published.messages.clear()
    handler([_report_delivery(early, attempt=2)])

    assert [(m.routing_key, e["recipient_id"], e["status"])
            for m in published.messages
            for e in inner_events(m.body)] == [(DELIVERY_EVENTS, recipient_id, "DELIVERED")]  # type: ignore[arg-type]


# --- the development outbox -----------------------------------------------------------------------------------------

def test_the_outbox_answers_only_requests_from_this_machine(settings):
    app = create_app(replace(settings, email_transport="outbox", public_url="http://localhost:8080"))
    here = client_from(app, "127.0.0.1")
    away = client_from(app, "192.0.2.10")
    spoofing = client_from(app, "192.0.2.10")

    assert here.get("/outbox").status_code == 302  # to sign in
    assert away.get("/outbox").status_code == 404
    assert away.get("/outbox/latest?to=someone@agency.gov.sg").status_code == 404
    assert spoofing.get("/outbox", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 404  # no trusted proxy
    here_page = here.get("/sign-in/password?email=someone@agency.gov.sg").get_data(as_text=True)
    away_page = away.get("/sign-in/password?email=someone@agency.gov.sg").get_data(as_text=True)
    assert 'id="outbox-password-link"' in here_page and 'id="outbox-password-link"' not in away_page

"""sender-sms turning Twilio status reports (from sms.status) into receipts for stats: Twilio's request signature
is checked with the twilio library when the credential's auth token is known, only final statuses count, a
report about another Twilio message than the one sent is dropped, and without the auth token a report counts only
for a SID recorded here. Real campaign service (the sealed credential),
real database; the reports are what the gateway queues."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from prometheus_client import REGISTRY
from twilio.request_validator import RequestValidator

from postman_sender_sms.delivery import DELIVERIES, status_callback_url
from postman_sender_sms.models import SmsDelivery
from postman_sender_sms.provider_credentials import CampaignCredentials, TwilioSenders
from postman_sender_sms.receipts import MARK_FAILED_ATTEMPTS, ReceiptHandler
from postman_shared.broker import Delivery, OutgoingMessage
from postman_shared.broker.topology import DELIVERY_EVENTS, SMS_STATUS_RETRY
from postman_shared.broker.waiting import ATTEMPT_HEADER
from postman_shared.callbacks import sms_status_path
from postman_shared.credentials import sealer_from_settings
from postman_shared.messages import SmsStatusReport, inner_events
from tests.fakes.twilio import FakeTwilio
from tests.integration.sender_email.support import wait_for_events
from tests.integration.sender_sms.conftest import StoredTwilio, rendered_sms
from tests.support import service_identity
from tests.support.inprocess import running

PUBLIC_URL = "https://postman.example.gov.sg"
# A campaign id of this run alone: other modules sharing the database record deliveries of low campaign ids.
CAMPAIGN = 1_000_000_000 + secrets.randbelow(10**8)
# Recipients of this run's own, never a real recipient of another module's campaign in the worker's database:
# sender-sms matches a receipt to the SMS it sent by the recipient's id (a literal 1001 once met the delivery of a
# real recipient 1001 made by another module).
RECIPIENT = 1_100_000_000 + secrets.randbelow(10**8)
OTHER_RECIPIENT = RECIPIENT + 1


@dataclass
class Receipts:
    handler: ReceiptHandler
    published: list[OutgoingMessage]

    def handle(self, *reports: SmsStatusReport | bytes, attempt: int = 1) -> list[dict]:
        """The receipt events published for these reports (as one batch); malformed ones raise."""
        self.published.clear()
        batch = [Delivery(delivery_tag=n, message_id=f"m{n}", redelivered=False,
                          headers={ATTEMPT_HEADER: attempt} if attempt > 1 else {},
                          body=r if isinstance(r, bytes) else json.dumps(r.to_dict()).encode())
                 for n, r in enumerate(reports)]
        dead = self.handler(batch)
        assert dead == [], "malformed"
        return [event for m in self.published if m.routing_key == DELIVERY_EVENTS
                for event in inner_events(m.body)]  # type: ignore[arg-type]

    @property
    def parked(self) -> list[OutgoingMessage]:
        """What the last batch put in the wait queue."""
        return [m for m in self.published if m.routing_key == SMS_STATUS_RETRY]


@pytest.fixture
def receipts(sms_settings, database) -> Iterator[Receipts]:
    published: list[OutgoingMessage] = []
    with running(sms_settings, "campaign"), service_identity.acting_as("sender-sms"):  # sender-sms's own calls
        senders = TwilioSenders(CampaignCredentials(sms_settings.campaign_addr),
                                lambda: sealer_from_settings(sms_settings), "http://127.0.0.1:9")
        yield Receipts(ReceiptHandler(senders, database, published.extend), published)


def report(credential: StoredTwilio, recipient_id: int, status: str, error_code: str | None = None,
           token: str | None = None, sid: str | None = None, campaign_id: int = CAMPAIGN) -> SmsStatusReport:
    """A report as the gateway queues it, signed like Twilio with ``token`` (unsigned when None)."""
    url = PUBLIC_URL + sms_status_path(campaign_id, recipient_id, credential.id, "test-callback-signing-key")
    params = {"AccountSid": credential.account_sid, "ApiVersion": "2010-04-01", "MessageSid": sid or "SM" + "0" * 32,
              "MessageStatus": status, "SmsStatus": status, "To": "+6591234567",
              "MessagingServiceSid": credential.messaging_service_sid}
    if error_code:
        params["ErrorCode"] = error_code
    signature = RequestValidator(token).compute_signature(url, params) if token else ""
    return SmsStatusReport(campaign_id=campaign_id, recipient_id=recipient_id, credential_id=credential.id,
                           message_sid=params["MessageSid"], status=status, error_code=error_code, url=url,
                           params=params, signature=signature)


def _forged() -> float:
    return REGISTRY.get_sample_value("postman_sms_receipts_total", {"outcome": "forged"}) or 0.0


def test_with_a_known_auth_token_a_report_signed_by_twilio_becomes_a_receipt(receipts, account_sid_credential):
    token = account_sid_credential.api_secret
    events = receipts.handle(report(account_sid_credential, RECIPIENT, "delivered", token=token),
                             report(account_sid_credential, OTHER_RECIPIENT, "undelivered", "30003", token=token))

    assert events == [
        {"recipient_id": RECIPIENT, "campaign_id": CAMPAIGN, "job_id": 0, "status": "DELIVERED", "error_code": None,
         "reason": None, "kind": "receipt", "error_sub_type": None},
        {"recipient_id": OTHER_RECIPIENT, "campaign_id": CAMPAIGN, "job_id": 0, "status": "ERROR",
         "error_code": "twilio_30003", "reason": "Twilio reported the message undelivered (error 30003)",
         "kind": "receipt", "error_sub_type": None},
    ]


def test_with_a_known_auth_token_a_report_not_signed_by_twilio_is_dropped(receipts, account_sid_credential):
    genuine = report(account_sid_credential, RECIPIENT, "undelivered", "30003", token=account_sid_credential.api_secret)
    forged_before = _forged()

    events = receipts.handle(
        report(account_sid_credential, RECIPIENT, "undelivered", "30003", token=secrets.token_hex(16)),  # another token
        replace(genuine, params={**genuine.params, "ErrorCode": "30005"}),  # a signed form, altered
        replace(genuine, signature=""),  # no signature at all
        replace(genuine, url=genuine.url.replace("https://", "http://evil.example/")),  # signed for another URL
    )

    assert events == []
    assert _forged() - forged_before == 4


def record(database, recipient_id: int, sid: str) -> None:
    """The row sender-sms writes once the batch that sent the message is committed."""
    with database.unit_of_work() as session:
        session.add(SmsDelivery(message_id=str(recipient_id), campaign_id=CAMPAIGN, recipient_id=recipient_id,
                                status="SENT", provider_message_id=sid))


def test_without_the_auth_token_the_url_signature_is_enough_for_a_sid_recorded_here(
        receipts, twilio_credential, database):
    recipient_id, sid = secrets.randbelow(10**9) + 1, "SM" + secrets.token_hex(16)
    record(database, recipient_id, sid)

    events = receipts.handle(report(twilio_credential, recipient_id, "failed", sid=sid))

    assert [(e["status"], e["error_code"], e["reason"]) for e in events] == [
        ("ERROR", "twilio_failed", "Twilio reported the message failed")]


def test_without_the_auth_token_a_sid_not_recorded_waits_and_is_announced_only_once_it_is(
        receipts, twilio_credential, database):
    """An API-key credential's report: only the URL's HMAC vouches for it, so an unknown SID (its batch may not be
    committed yet) waits in the wait queue, unannounced, and counts once the SID is recorded for that recipient."""
    recipient_id, sid = secrets.randbelow(10**9) + 1, "SM" + secrets.token_hex(16)
    failure = report(twilio_credential, recipient_id, "undelivered", "30003", sid=sid)

    assert receipts.handle(failure) == [] and [m.headers for m in receipts.parked] == [{ATTEMPT_HEADER: 2}]
    record(database, recipient_id, sid)
    again = receipts.handle(failure, attempt=2)

    assert [(e["recipient_id"], e["status"]) for e in again] == [(recipient_id, "ERROR")] and receipts.parked == []
    with database.session() as session:
        assert session.get(SmsDelivery, str(recipient_id)).status == "ERROR"


def test_statuses_that_are_not_final_are_ignored(receipts, account_sid_credential):
    token = account_sid_credential.api_secret
    events = receipts.handle(*(report(account_sid_credential, RECIPIENT, status, token=token)
                               for status in ("accepted", "queued", "sending", "sent")))

    assert events == []


def test_a_report_naming_another_twilio_message_than_the_one_recorded_is_dropped(
        receipts, twilio_credential, database):
    sid = "SM" + secrets.token_hex(16)
    recipient_id = secrets.randbelow(10**9) + 1
    with database.unit_of_work() as session:
        session.add(SmsDelivery(message_id=str(recipient_id), campaign_id=CAMPAIGN, status="SENT",
                                provider_message_id=sid))

    wrong = receipts.handle(report(twilio_credential, recipient_id, "undelivered", "30003",
                                   sid="SM" + secrets.token_hex(16)))
    right = receipts.handle(report(twilio_credential, recipient_id, "undelivered", "30003", sid=sid))

    assert wrong == []
    assert [e["recipient_id"] for e in right] == [recipient_id]


def test_a_retried_messages_report_is_matched_by_its_own_sid_not_the_first_attempts(
        receipts, twilio_credential, database):
    recipient_id, other = (secrets.randbelow(10**9) + 1 for _ in range(2))
    first, retried, others = ("SM" + secrets.token_hex(16) for _ in range(3))
    with database.unit_of_work() as session:  # the first attempt, its retry (job 77), and another recipient
        session.add_all([
            SmsDelivery(message_id=str(recipient_id), campaign_id=CAMPAIGN, status="SENT", provider_message_id=first),
            SmsDelivery(message_id=f"{recipient_id}.77", campaign_id=CAMPAIGN, status="SENT",
                        provider_message_id=retried),
            SmsDelivery(message_id=str(other), campaign_id=CAMPAIGN, status="SENT", provider_message_id=others),
        ])

    of_retry = receipts.handle(report(twilio_credential, recipient_id, "undelivered", "30003", sid=retried))
    of_first = receipts.handle(report(twilio_credential, recipient_id, "delivered", sid=first))
    borrowed = receipts.handle(report(twilio_credential, recipient_id, "delivered", sid=others))

    assert [(e["recipient_id"], e["status"]) for e in of_retry] == [(recipient_id, "ERROR")]
    assert [(e["recipient_id"], e["status"]) for e in of_first] == [(recipient_id, "DELIVERED")]
    assert borrowed == []  # another recipient's message


def test_a_report_of_a_credential_removed_since_relies_on_the_url_signature_and_the_recorded_sid(
        receipts, twilio_credential, database):
    gone = replace(twilio_credential, id=2**62)
    recipient_id, sid = secrets.randbelow(10**9) + 1, "SM" + secrets.token_hex(16)
    record(database, recipient_id, sid)

    events = receipts.handle(report(gone, recipient_id, "delivered", sid=sid))
    invented = receipts.handle(report(gone, recipient_id + 1, "delivered", sid="SM" + secrets.token_hex(16)))

    assert [e["status"] for e in events] == ["DELIVERED"] and invented == []


def test_a_malformed_report_is_dead_lettered(receipts, twilio_credential):
    good = report(twilio_credential, RECIPIENT, "delivered")
    batch = [Delivery(delivery_tag=1, message_id="bad", redelivered=False, headers={},
                      body=json.dumps({**good.to_dict(), "params": {"To": 6591234567}}).encode()),
             Delivery(delivery_tag=2, message_id="good", redelivered=False, headers={},
                      body=json.dumps(good.to_dict()).encode())]

    dead = receipts.handler(batch)

    assert [d.message_id for d in dead] == ["bad"]
    assert [m.body["recipient_id"] for m in receipts.published] == [RECIPIENT]  # type: ignore[index]


def test_every_message_asks_twilio_for_status_callbacks_at_its_signed_gateway_url(
        sms_settings, amqp_channel, publish, campaign_id, twilio_credential):
    settings = replace(sms_settings, public_url="http://127.0.0.1:9")  # nothing listens: the callbacks fail
    messages = rendered_sms(campaign_id, twilio_credential, 3)
    with FakeTwilio(api_key=twilio_credential.api_key, api_secret=twilio_credential.api_secret) as twilio, \
            running(replace(settings, twilio_api_base=twilio.base_url), "campaign", "sender-sms"):
        publish(messages)
        wait_for_events(amqp_channel, len(messages))
        sent = twilio.sent

    url = status_callback_url(settings.public_url, settings.callback_signing_key)
    assert sorted(r.status_callback for r in sent) == sorted(url(m) for m in messages)
    assert all(r.status_callback.startswith(  # type: ignore[union-attr]
        f"http://127.0.0.1:9/callbacks/twilio/sms/c/{campaign_id}/") for r in sent)


def test_a_failure_reported_before_its_message_is_recorded_marks_it_failed_once_it_is(
        receipts, account_sid_credential, database):
    """Twilio can report a failure while the batch that sent the message is still being sent: a report Twilio
    signed is announced at once, and comes back from the wait queue to mark the message failed once its row is
    there, so a retry of the campaign sends it again."""
    sid = "SM" + secrets.token_hex(16)
    recipient_id = secrets.randbelow(10**9) + 1
    failure = report(account_sid_credential, recipient_id, "undelivered", "30003", sid=sid,
                     token=account_sid_credential.api_secret)

    first = receipts.handle(failure)
    assert [(e["recipient_id"], e["status"]) for e in first] == [(recipient_id, "ERROR")]
    [parked] = receipts.parked
    assert (parked.headers, parked.expiration_ms, parked.body) == ({ATTEMPT_HEADER: 2}, 1000, failure.to_dict())

    again = receipts.handle(failure, attempt=2)  # still not recorded: parked again, longer, and not re-announced
    assert again == [] and [(m.headers, m.expiration_ms) for m in receipts.parked] == [({ATTEMPT_HEADER: 3}, 4000)]

    with database.unit_of_work() as session:  # the sender's batch is committed
        session.add(SmsDelivery(message_id=str(recipient_id), campaign_id=CAMPAIGN, recipient_id=recipient_id,
                                status="SENT", provider_message_id=sid))
    assert receipts.handle(failure, attempt=3) == [] and receipts.parked == []
    with database.session() as session:
        assert session.get(SmsDelivery, str(recipient_id)).status == "ERROR"
        assert DELIVERIES.sent_to(session, [recipient_id]) == set()


def test_a_failure_report_whose_message_never_appears_stops_coming_back(receipts, twilio_credential):
    failure = report(twilio_credential, secrets.randbelow(10**9) + 1, "failed", sid="SM" + secrets.token_hex(16))

    assert receipts.handle(failure, attempt=MARK_FAILED_ATTEMPTS - 1) == []
    assert [m.headers for m in receipts.parked] == [{ATTEMPT_HEADER: MARK_FAILED_ATTEMPTS}]
    assert receipts.handle(failure, attempt=MARK_FAILED_ATTEMPTS) == [] and receipts.parked == []


def test_a_delivered_report_signed_by_twilio_is_never_parked(receipts, account_sid_credential):
    events = receipts.handle(report(account_sid_credential, RECIPIENT, "delivered", sid="SM" + secrets.token_hex(16),
                                    token=account_sid_credential.api_secret))

    assert [e["status"] for e in events] == ["DELIVERED"] and receipts.parked == []

"""Transactional email with SES: the real boto3 client against the local SESv2 fake, then SES's events delivered the
way SNS delivers them (signed with the fake SNS's certificate, served over HTTP) to the gateway, queued on
``email.events`` and applied by sender-email. Forged, tampered and foreign messages are refused and change nothing.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import replace

import pytest

from tests.fakes.ses import FakeSes
from tests.fakes.sns import TOPIC, FakeSns, self_signed
from tests.integration.gateway.conftest import poll
from tests.support.inprocess import running
from tests.support.module_fakes import fake_aws_environment, fresh_ses, fresh_sns, purge_queues

EVENTS_PATH = "/callbacks/ses/events"


@pytest.fixture(scope="module")
def module_ses(tmp_path_factory):
    with fake_aws_environment(tmp_path_factory.mktemp("aws")), FakeSes() as server:
        yield server


@pytest.fixture(scope="module")
def module_sns():
    with FakeSns() as fake:
        yield fake


@pytest.fixture(scope="module")
def module_system(module_settings, module_ses, module_sns):
    """The module's settings wired to its SES and SNS, with the services started once for the module (each test
    makes its own callers; a transactional email is handed to SES before its answer)."""
    wired = replace(module_settings, email_transport="ses", ses_endpoint_url=module_ses.endpoint_url,
                    ses_region="ap-southeast-1", ses_configuration_set="postman-tracked",
                    ses_untracked_configuration_set="postman-untracked",
                    ses_events_topic_arns=f"arn:aws:sns:ap-southeast-1:123456789012:other,{TOPIC}",
                    sns_cert_url_prefix=module_sns.url_prefix)
    purge_queues(wired.amqp_url)
    with running(wired, "auth", "campaign", "sender-email"):
        yield wired


@pytest.fixture
def settings(module_system):
    return module_system


@pytest.fixture(autouse=True)
def ses(module_ses, module_system):
    """The module's SES, with nothing sent, before anything of the test reaches it."""
    return fresh_ses(module_ses)


@pytest.fixture(autouse=True)
def sns(module_sns):
    """The module's SNS, as new: the test's app (its own) has not fetched its certificate yet."""
    return fresh_sns(module_sns)


def send(http, caller, **fields):
    response = http.post("/v1/transactional/email/send", headers=caller.headers,
                         json={"subject": "Your results", "body": "<p>Ready</p>", "recipient": "ana@example.com",
                               **fields})
    assert response.status_code == 201, response.json
    return response.json


def event_of(sns, event_type, request, **detail):
    """An SES event about the email SES took in ``request`` (about its main recipient unless ``recipients``)."""
    return sns.ses_event(event_type, request.message_id, recipients=detail.pop("recipients", list(request.to)),
                         **detail)


def unique_address() -> str:
    """An address no other test uses: a bounce or complaint suppresses its address for the whole run."""
    return f"ana.{secrets.token_hex(4)}@example.com"


def deliver(http, message):
    """POSTs an SNS message the way SNS does: JSON in a text/plain body."""
    return http.post(EVENTS_PATH, data=json.dumps(message), content_type="text/plain; charset=UTF-8",
                     headers={"x-amz-sns-message-type": message["Type"]})


def status_of(http, caller, email_id, wanted, what=None):
    return poll(lambda: http.get(f"/v1/transactional/email/{email_id}", headers=caller.headers).json,
                lambda e: e["status"] == wanted, what or f"the email to become {wanted}")


def test_an_email_goes_to_ses_with_its_copies_and_the_tracked_configuration_set(http, caller, ses):
    tracked = send(http, caller, cc=["bo@example.com"], bcc=["audit@agency.gov.sg"])
    untracked = send(http, caller, disable_tracking=True)

    assert tracked["status"] == "ACCEPTED" and untracked["status"] == "ACCEPTED"
    first, second = ses.sent
    assert (first.to, first.cc, first.bcc) == (("ana@example.com",), ("bo@example.com",), ("audit@agency.gov.sg",))
    assert "Bcc" not in first.parsed() and first.parsed()["Cc"] == "bo@example.com"
    assert first.configuration_set == "postman-tracked" and second.configuration_set == "postman-untracked"
    # SES reports what happens next: until then the email is ACCEPTED, not SENT.
    assert http.get(f"/v1/transactional/email/{tracked['id']}", headers=caller.headers).json["status"] == "ACCEPTED"


def test_ses_events_move_an_email_through_sent_delivered_and_opened_then_a_complaint_wins(http, caller, ses, sns):
    email = send(http, caller, recipient=unique_address())
    [request] = ses.sent

    for event_type, wanted in (("Send", "SENT"), ("Delivery", "DELIVERED"), ("Open", "OPENED")):
        assert deliver(http, sns.notification(TOPIC, event_of(sns, event_type, request))).status_code == 204
        moved = status_of(http, caller, email["id"], wanted)
    assert moved["sent_at"] and moved["delivered_at"] and moved["opened_at"]

    # A late Delivery never moves it back; a complaint after it was opened does move it.
    assert deliver(http, sns.notification(TOPIC, event_of(sns, "Delivery", request))).status_code == 204
    assert deliver(http, sns.notification(TOPIC, event_of(sns, "Complaint", request,
                                                               complaint_type="abuse"), version="2")).status_code == 204
    complained = status_of(http, caller, email["id"], "COMPLAINT")
    assert (complained["error_code"], complained["error_sub_type"]) == ("complaint", "abuse")
    assert complained["delivered_at"] == moved["delivered_at"]
    assert sns.certificate_fetches == 1  # the certificate is cached


def test_a_bounce_wins_over_a_delivery_and_events_out_of_order_fill_in_their_times(http, caller, ses, sns):
    email = send(http, caller, recipient=unique_address())
    [request] = ses.sent
    deliver(http, sns.notification(TOPIC, event_of(sns, "Bounce", request, bounce_type="Permanent",
                                                        bounce_sub_type="NoEmail")))
    deliver(http, sns.notification(TOPIC, event_of(sns, "Send", request)))
    deliver(http, sns.notification(TOPIC, event_of(sns, "Delivery", request)))

    bounced = poll(lambda: http.get(f"/v1/transactional/email/{email['id']}", headers=caller.headers).json,
                   lambda e: e["sent_at"] and e["delivered_at"], "the later events' times")
    assert bounced["status"] == "BOUNCED"
    assert (bounced["error_code"], bounced["error_sub_type"]) == ("bounce_permanent", "NoEmail")


def test_forged_tampered_and_foreign_messages_are_refused_and_change_nothing(http, caller, ses, sns):
    email = send(http, caller)
    [request] = ses.sent
    delivery = event_of(sns, "Delivery", request)
    other_key, _ = self_signed()

    forged = sns.sign({k: v for k, v in sns.notification(TOPIC, delivery).items()
                       if k not in ("Signature", "SignatureVersion", "SigningCertURL")}, key=other_key)
    tampered = sns.notification(TOPIC, event_of(sns, "Send", request))
    tampered["Message"] = json.dumps(delivery)
    foreign = sns.notification("arn:aws:sns:ap-southeast-1:999999999999:someone-elses", delivery)
    elsewhere = {**sns.notification(TOPIC, delivery), "SigningCertURL": "http://203.0.113.9/cert.pem"}
    for message in (forged, tampered, foreign, elsewhere):
        answer = deliver(http, message)
        assert (answer.status_code, answer.json["code"]) == (403, "unauthorized"), answer.json
    not_sns = http.post(EVENTS_PATH, data="MessageSid=SM1", content_type="application/x-www-form-urlencoded")
    assert not_sns.status_code == 403

    # A genuine event queued after them is applied; the forged ones left no trace before it.
    deliver(http, sns.notification(TOPIC, event_of(sns, "Send", request)))
    sent = status_of(http, caller, email["id"], "SENT")
    assert sent["delivered_at"] is None


def test_a_subscription_of_an_allowed_topic_is_confirmed_and_another_is_not(http, sns):
    allowed = sns.subscription_confirmation(TOPIC)
    assert deliver(http, allowed).status_code == 204
    assert sns.confirmed == [allowed["Token"]]

    other = sns.subscription_confirmation("arn:aws:sns:ap-southeast-1:999999999999:someone-elses")
    assert deliver(http, other).status_code == 403
    assert sns.confirmed == [allowed["Token"]]


def test_events_about_other_messages_are_accepted_and_ignored(http, caller, ses, sns):
    email = send(http, caller)
    [request] = ses.sent
    unknown = sns.ses_event("Bounce", "0100018f-a-campaign-message", recipients=[unique_address()])
    answer = deliver(http, sns.notification(TOPIC, unknown))
    assert answer.status_code == 204
    not_ses = deliver(http, sns.notification(TOPIC, {"hello": "world"}, subject="Something else"))
    assert not_ses.status_code == 204

    # An event queued after them is applied, so the bounce before it was consumed without touching this email.
    deliver(http, sns.notification(TOPIC, event_of(sns, "Send", request)))
    sent = status_of(http, caller, email["id"], "SENT")
    assert sent["error_code"] is None


def test_an_event_about_a_copy_leaves_the_email_as_it_is(http, caller, ses, sns):
    email = send(http, caller, cc=["bo@example.com"])
    [request] = ses.sent
    deliver(http, sns.notification(TOPIC, event_of(sns, "Bounce", request, recipients=["bo@example.com"])))
    deliver(http, sns.notification(TOPIC, event_of(sns, "Send", request)))

    sent = status_of(http, caller, email["id"], "SENT")
    assert sent["error_code"] is None


def test_a_hard_bounce_suppresses_the_address_and_the_next_email_to_it_is_refused_with_why(http, caller, ses, sns):
    address = unique_address()
    email = send(http, caller, recipient=address)
    [request] = ses.sent
    deliver(http, sns.notification(TOPIC, event_of(sns, "Bounce", request, recipients=[address],
                                                    bounce_type="Permanent", bounce_sub_type="NoEmail")))
    status_of(http, caller, email["id"], "BOUNCED")

    refused = poll(lambda: http.post("/v1/transactional/email/send", headers=caller.headers, json={
        "subject": "Again", "body": "<p>Again</p>", "recipient": address}),
        lambda r: r.status_code == 400, "the next email to the address refused")
    copy = send(http, caller, cc=[address])

    assert refused.json["code"] == "invalid_recipient"
    assert "bounced permanently" in refused.json["message"] and "suppression list" in refused.json["message"]
    assert len(ses.sent) == 2 and ses.sent[1].cc == ()  # the suppressed copy was dropped, the email went
    assert copy["status"] == "ACCEPTED"

"""Webhooks to client systems (issue 16), end to end: registered through the API, events recorded by the real
services (sender-email's transactional status, campaign's sent/finished), relayed from their outboxes through
``client.webhooks`` and POSTed by stats to a local receiver (tests/fakes/webhook_receiver.py) that checks each
signature, fails on purpose and is slow on purpose."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace

import pytest
from sqlalchemy import select

from postman_auth.models import AuditEvent
from postman_shared.broker import OutgoingMessage, Publisher
from postman_shared.broker.topology import CLIENT_WEBHOOKS, EMAIL_PRIORITY
from postman_shared.client_webhooks import ClientWebhookEvent
from postman_shared.credentials import new_master_key
from postman_shared.timestamps import utcnow
from tests.conftest import TESTDATA
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.integration.gateway.conftest import poll, upload_file
from tests.support.inprocess import running

HOOKS = "/v1/settings/webhooks"


@pytest.fixture
def settings(settings):
    return replace(settings, webhook_allow_private=True, credentials_key=new_master_key(),
                   webhook_retry_base_seconds=1, webhook_timeout_seconds=1, webhook_pause_after_failures=3)


@pytest.fixture
def receiver():
    with WebhookReceiver() as fake:
        yield fake


@pytest.fixture
def publish(stores):
    publisher = Publisher(stores.amqp_url, app_id="test")

    def send(*events: ClientWebhookEvent) -> None:
        publisher.publish([OutgoingMessage(CLIENT_WEBHOOKS, e.to_dict(), e.message_id) for e in events])

    yield send
    publisher.close()


def event_for(user_id: int, kind: str = "transactional", event_type: str = "email.status") -> ClientWebhookEvent:
    return ClientWebhookEvent(event_id=f"test-event-{uuid.uuid4().hex[:12]}", user_id=user_id, kind=kind,
                              type=event_type, occurred_at=utcnow().isoformat(), data={"status": "DELIVERED"})


def register(http, caller, receiver, path: str, kind: str = "transactional") -> str:
    created = http.put(f"{HOOKS}/{kind}", headers=caller.headers, json={"url": receiver.url(path)})
    assert created.status_code == 201, created.json
    assert created.json["secret"].startswith("whsec_")
    receiver.secrets[path] = created.json["secret"]
    return created.json["secret"]


def deliveries(http, caller, kind: str = "transactional") -> list[dict]:
    answer = http.get(f"{HOOKS}/{kind}/deliveries", headers=caller.headers)
    assert answer.status_code == 200, answer.json
    return answer.json["deliveries"]


def test_transactional_email_status_reaches_the_webhook_signed_and_is_logged(settings, http, new_caller, receiver):
    with running(settings, "auth", "campaign", "sender-email", "stats"):
        caller = new_caller()
        register(http, caller, receiver, "/ok")
        listed = http.get(HOOKS, headers=caller.headers).json["webhooks"]
        assert [(w["kind"], w["url"], w["paused"]) for w in listed] == [("transactional", receiver.url("/ok"), False)]
        assert "secret" not in listed[0]

        sent = http.post("/v1/transactional/email/send", headers=caller.headers,
                         json={"subject": "Your appointment", "body": "<p>At 10am</p>", "recipient": "ana@example.com",
                               "tag": "appointment"})
        assert sent.status_code == 201, sent.json

        got = poll(lambda: receiver.to("/ok"), lambda r: len(r) >= 2, "the ACCEPTED and SENT events")
        bodies = [r.json() for r in got]
        assert sorted(b["data"]["status"] for b in bodies) == ["ACCEPTED", "SENT"]
        assert all(r.signature_ok for r in got)  # the receiver checked each signature with the secret shown once
        for received, body in zip(got, bodies, strict=True):
            assert received.headers["X-Postman-Event-Id"] == body["id"]
            assert received.headers["X-Postman-Event-Type"] == body["type"] == "email.status"
            assert body["data"]["id"] == sent.json["id"]
            assert (body["data"]["channel"], body["data"]["recipient"], body["data"]["tag"]) == (
                "email", "ana@example.com", "appointment")
        log = poll(lambda: deliveries(http, caller), lambda d: len(d) >= 2, "the delivery log")
        assert {(d["outcome"], d["status_code"], d["attempt"]) for d in log} == {("delivered", 200, 1)}

        test = http.post(f"{HOOKS}/transactional/test", headers=caller.headers)
        assert test.status_code == 200, test.json
        assert (test.json["event_type"], test.json["outcome"], test.json["status_code"]) == ("test", "delivered", 200)
        assert receiver.to("/ok")[-1].signature_ok and receiver.to("/ok")[-1].json()["type"] == "test"

        rotated = http.post(f"{HOOKS}/transactional/secret", headers=caller.headers)
        assert rotated.status_code == 200 and rotated.json["secret"] != receiver.secrets["/ok"]
        http.post(f"{HOOKS}/transactional/test", headers=caller.headers)
        assert receiver.to("/ok")[-1].signature_ok is False  # signed with the new secret, which the receiver lacks
        receiver.secrets["/ok"] = rotated.json["secret"]
        http.post(f"{HOOKS}/transactional/test", headers=caller.headers)
        assert receiver.to("/ok")[-1].signature_ok is True

        assert http.delete(f"{HOOKS}/transactional", headers=caller.headers).status_code == 200
        assert http.get(HOOKS, headers=caller.headers).json == {"webhooks": []}
        assert http.get(f"{HOOKS}/transactional/deliveries", headers=caller.headers).status_code == 404


def test_failed_deliveries_are_retried_with_growing_waits_until_one_succeeds(settings, http, new_caller, receiver,
                                                                             publish):
    with running(settings, "auth", "stats"):
        caller = new_caller()
        register(http, caller, receiver, "/flaky/2")
        event = event_for(caller.user_id)
        publish(event)

        got = poll(lambda: receiver.to("/flaky"), lambda r: len(r) >= 3, "the third attempt", timeout=20)
        assert {r.headers["X-Postman-Event-Id"] for r in got} == {event.event_id}
        assert all(r.signature_ok for r in got)
        first_wait, second_wait = got[1].at - got[0].at, got[2].at - got[1].at
        assert 0.9 <= first_wait < 3 and 1.8 <= second_wait < 5, (first_wait, second_wait)  # 1 s, then 2 s
        log = poll(lambda: deliveries(http, caller), lambda d: len(d) >= 3, "three attempts in the log")
        assert [(d["attempt"], d["outcome"], d["status_code"]) for d in log] == [
            (3, "delivered", 200), (2, "failed", 503), (1, "failed", 503)]
        assert log[2]["next_attempt_at"] and log[0]["next_attempt_at"] is None
        time.sleep(1.5)
        assert len(receiver.to("/flaky")) == 3  # nothing more once delivered
        assert http.get(HOOKS, headers=caller.headers).json["webhooks"][0]["consecutive_failures"] == 0


def priority_email(amqp_channel, to: str):
    def next_email():
        method, _properties, body = amqp_channel.basic_get(EMAIL_PRIORITY, auto_ack=True)
        return json.loads(body) if method is not None else None

    return poll(next_email, lambda m: m is not None and m["to"] == to, f"an email to {to}", timeout=20)


def test_a_webhook_that_keeps_failing_is_paused_and_its_owner_emailed(settings, http, new_caller, receiver,
                                                                      publish, amqp_channel, database):
    with running(settings, "auth", "stats"):
        caller = new_caller()
        register(http, caller, receiver, "/down")
        publish(*(event_for(caller.user_id) for _ in range(3)))

        email = priority_email(amqp_channel, caller.email)
        assert email["subject"] == "Webhook paused: transactional message status"
        assert receiver.url("/down") in email["body"] and "3 deliveries in a row failed" in email["body"]
        [hook] = http.get(HOOKS, headers=caller.headers).json["webhooks"]
        assert hook["paused"] is True and "answered HTTP 500" in hook["pause_reason"]
        with database.session() as session:
            audited = session.scalars(select(AuditEvent).where(AuditEvent.user_id == caller.user_id,
                                                               AuditEvent.action == "webhook.paused")).all()
            assert len(audited) == 1

        count = len(receiver.to("/down"))
        publish(event_for(caller.user_id))
        time.sleep(2.5)  # the new event, and the retries of the three, come and are dropped
        assert len(receiver.to("/down")) == count

        resumed = http.put(f"{HOOKS}/transactional", headers=caller.headers, json={"url": receiver.url("/ok")})
        assert resumed.status_code == 200 and resumed.json["paused"] is False and "secret" not in resumed.json
        receiver.secrets["/ok"] = receiver.secrets["/down"]  # the secret stays
        publish(event_for(caller.user_id))
        [received] = poll(lambda: receiver.to("/ok"), lambda r: len(r) == 1, "a delivery after resuming")
        assert received.signature_ok


def test_a_slow_endpoint_holds_up_neither_other_webhooks_nor_sending(settings, http, new_caller, receiver,
                                                                     publish):
    settings = replace(settings, webhook_timeout_seconds=3)
    with running(settings, "auth", "campaign", "sender-email", "stats"):
        slow_owner, other = new_caller(), new_caller()
        register(http, slow_owner, receiver, "/slow/6")
        register(http, other, receiver, "/ok")
        publish(*(event_for(slow_owner.user_id) for _ in range(30)))
        busy = poll(lambda: receiver.to("/slow"), lambda r: len(r) >= 4, "the slow endpoint busy")
        assert len(busy) == 4  # at most 4 at once to one webhook: the other events wait their turn

        started = time.monotonic()
        publish(event_for(other.user_id))
        poll(lambda: receiver.to("/ok"), lambda r: len(r) == 1, "the other user's event", timeout=10)
        assert time.monotonic() - started < 2.5  # well before the slow endpoint's 3 s timeout

        started = time.monotonic()
        sent = http.post("/v1/transactional/email/send", headers=other.headers,
                         json={"subject": "Hello", "body": "<p>Hi</p>", "recipient": "ana@example.com"})
        assert sent.status_code == 201 and time.monotonic() - started < 2
        poll(lambda: receiver.to("/ok"), lambda r: len(r) >= 3, "the email's status events", timeout=10)
        slow_log = poll(lambda: deliveries(http, slow_owner), lambda d: len(d) >= 1, "the slow endpoint's log")
        assert slow_log[0]["outcome"] == "failed" and "no answer within 3 s" in slow_log[0]["error"]


def test_urls_to_private_addresses_are_refused_without_the_development_setting(settings, http, new_caller):
    settings = replace(settings, webhook_allow_private=False)
    with running(settings, "auth", "stats"):
        caller = new_caller()
        for url in ("http://example.gov.sg/hook", "https://127.0.0.1/hook", "https://10.0.0.8/hook",
                    "https://169.254.169.254/latest/meta-data/", "https://[::1]/hook", "https://localhost/hook",
                    "https://[::ffff:10.0.0.1]/hook"):
            refused = http.put(f"{HOOKS}/campaign", headers=caller.headers, json={"url": url})
            assert (refused.status_code, refused.json["code"]) == (400, "invalid_parameters"), (url, refused.json)
        assert http.get(HOOKS, headers=caller.headers).json == {"webhooks": []}
        bad_kind = http.put(f"{HOOKS}/everything", headers=caller.headers, json={"url": "https://example.gov.sg/"})
        assert (bad_kind.status_code, bad_kind.json["code"]) == (404, "not_found")
        no_url = http.put(f"{HOOKS}/campaign", headers=caller.headers, json={})
        assert (no_url.status_code, no_url.json["code"]) == (400, "api_validation")


def test_a_redirect_is_not_followed(settings, http, new_caller, receiver):
    with running(settings, "auth", "stats"):
        caller = new_caller()
        register(http, caller, receiver, "/redirect")
        answer = http.post(f"{HOOKS}/transactional/test", headers=caller.headers).json
        assert (answer["outcome"], answer["status_code"]) == ("failed", 302)
        assert "redirects are not followed" in answer["error"]
        assert len(receiver.received) == 1  # nothing followed the Location (the metadata address)


def test_a_campaign_sends_its_sent_and_finished_events_with_counts(settings, http, new_caller, receiver):
    with running(settings, "auth", "campaign", "renderer", "stats", "sender-email"):
        caller = new_caller()
        register(http, caller, receiver, "/ok", kind="campaign")
        campaign_id = http.post("/v1/campaigns", headers=caller.headers,
                                json={"name": "Flu jabs", "type": "EMAIL"}).json["id"]
        base = f"/v1/campaign/{campaign_id}/email"
        assert http.put(f"{base}/template", headers=caller.headers, json={
            "subject": "Hello {{name}}", "body": "<p>Dear {{name}}, see you on {{appointment}}.</p>",
            "reply_to": None, "from": "Postman <donotreply@mail.postman.gov.sg>"}).status_code == 200
        upload_file(http, caller, campaign_id, TESTDATA / "email_basic.csv")
        assert http.post(f"{base}/send", headers=caller.headers).status_code == 200

        got = poll(lambda: receiver.to("/ok"), lambda r: len(r) >= 2, "campaign.sent and campaign.finished",
                   timeout=60)
        by_type = {r.json()["type"]: r.json() for r in got}
        assert set(by_type) == {"campaign.sent", "campaign.finished"}
        assert all(r.signature_ok for r in got)
        started, finished = by_type["campaign.sent"]["data"], by_type["campaign.finished"]["data"]
        assert (started["campaign_id"], started["name"], started["channel"]) == (campaign_id, "Flu jabs", "EMAIL")
        assert started["counts"]["to_send"] == 5 and started["simulated"] is False
        assert finished["job_id"] == started["job_id"]
        assert (finished["counts"]["sent"], finished["counts"]["error"], finished["counts"]["unsent"]) == (5, 0, 0)

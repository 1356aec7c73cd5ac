"""Test emails (``POST …/email/credentials`` and the review page's "Send a test email", issue 13): they are sends to
any address the caller types, so they count against the user's send limit and a per-campaign daily cap
(``TEST_EMAILS_PER_CAMPAIGN_PER_DAY``, failing closed), a test API key's are simulated (no provider is called), and
they travel on their own queue (``email.test``), never the one-time passwords' ``email.priority``."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace

import pytest
from sqlalchemy import text

from postman_auth import api_keys
from postman_gateway.app import create_app
from postman_gateway.core.rate_limits import LimitStoreUnavailable, MemoryLimitStore, Window
from postman_shared.broker.topology import EMAIL_PRIORITY, EMAIL_TEST
from tests.conftest import TESTDATA
from tests.fakes.smtp import FakeSmtpServer
from tests.integration.gateway.conftest import Caller, new_address, one_time_password, poll, upload_file
from tests.integration.web.conftest import csrf_token
from tests.support.inprocess import running

TEMPLATE = {"subject": "Your appointment, {{name}}", "body": "<p>Dear {{name}}, see you on {{appointment}}.</p>",
            "reply_to": None, "from": "Postman <donotreply@mail.postman.gov.sg>"}
PIPELINE = ("auth", "campaign", "renderer", "stats")


def frozen_store() -> MemoryLimitStore:
    """A limit store whose clock never moves: a window never closes during the test, so counts are exact however
    slow the machine is."""
    return MemoryLimitStore(clock=lambda: 1000.0)


class UnreachableStore:
    """A limit store that is down (Redis unreachable)."""

    def hit(self, key: str, period_seconds: int) -> Window:
        raise LimitStoreUnavailable("connection refused")


@pytest.fixture
def pipeline(settings):
    with running(settings, *PIPELINE):
        yield


@pytest.fixture
def owner(database) -> tuple[Caller, Caller]:
    """One user with a live key and a test key."""
    with database.unit_of_work() as session:
        user = api_keys.get_or_create_user(session, f"officer-{secrets.token_hex(4)}@agency.gov.sg")
        live = api_keys.create_api_key(session, user, label="live")
        test = api_keys.create_api_key(session, user, label="ci", test=True)
        return Caller(user.id, live, user.email), Caller(user.id, test, user.email)


def email_campaign(http, caller: Caller, recipients: bool = False) -> int:
    created = http.post("/v1/campaigns", headers=caller.headers, json={"name": "Reminders", "type": "EMAIL"})
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]
    saved = http.put(f"/v1/campaign/{campaign_id}/email/template", headers=caller.headers, json=TEMPLATE)
    assert saved.status_code == 200, saved.json
    if recipients:
        upload_file(http, caller, campaign_id, TESTDATA / "email_basic.csv")
    return campaign_id


def ask_test_email(http, caller: Caller, campaign_id: int, recipient: str = "checker@agency.gov.sg"):
    return http.post(f"/v1/campaign/{campaign_id}/email/credentials", headers=caller.headers,
                     json={"recipient": recipient})


def queued(channel, queue: str) -> list[dict]:
    found = []
    while True:
        method, _properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return found
        found.append(json.loads(body))


# -- the user's send limit -----------------------------------------------------------------------------------------

@pytest.mark.usefixtures("pipeline")
def test_a_test_email_counts_against_the_users_send_limit(settings, owner, database):
    live, _ = owner
    with database.unit_of_work() as session:  # as `postmanctl set-rate-limit` does: one send per second
        session.execute(text("UPDATE users SET rate_limit = 1 WHERE id = :id"), {"id": live.user_id})
    http = create_app(settings, limit_store=frozen_store()).test_client()
    campaign_id = email_campaign(http, live)
    first = ask_test_email(http, live, campaign_id)
    assert first.status_code == 200, first.json
    second = ask_test_email(http, live, campaign_id)
    assert (second.status_code, second.json["code"]) == (429, "rate_limit"), second.json
    assert "Too many sends" in second.json["message"] and int(second.headers["Retry-After"]) >= 1
    # The same counter as a campaign's send: the test email used the second's slot.
    send = http.post(f"/v1/campaign/{campaign_id}/email/send", headers=live.headers)
    assert (send.status_code, send.json["code"]) == (429, "rate_limit")


# -- the per-campaign cap ------------------------------------------------------------------------------------------

@pytest.mark.usefixtures("pipeline")
def test_a_campaign_sends_at_most_the_daily_cap_of_test_emails(settings, owner):
    live, _ = owner
    http = create_app(replace(settings, send_rate_limit_default=1000, test_emails_per_campaign_per_day=3),
                      limit_store=frozen_store()).test_client()
    campaign_id = email_campaign(http, live)
    for _ in range(3):
        assert ask_test_email(http, live, campaign_id).status_code == 200
    refused = ask_test_email(http, live, campaign_id)
    assert (refused.status_code, refused.json["code"]) == (429, "rate_limit"), refused.json
    assert refused.json["message"].startswith("Too many test emails for this campaign: at most 3 per day")
    assert 1 <= int(refused.headers["Retry-After"]) <= 86400
    # Another of the user's campaigns has a cap of its own.
    assert ask_test_email(http, live, email_campaign(http, live)).status_code == 200


@pytest.mark.usefixtures("pipeline")
def test_another_users_requests_for_a_campaign_do_not_use_up_its_owners_test_emails(settings, owner, database):
    live, _ = owner
    with database.unit_of_work() as session:
        intruder_user = api_keys.get_or_create_user(session, f"intruder-{secrets.token_hex(4)}@agency.gov.sg")
        intruder = Caller(intruder_user.id, api_keys.create_api_key(session, intruder_user, label="x"))
    http = create_app(replace(settings, send_rate_limit_default=1000, test_emails_per_campaign_per_day=2),
                      limit_store=frozen_store()).test_client()
    campaign_id = email_campaign(http, live)
    for _ in range(3):
        assert ask_test_email(http, intruder, campaign_id).status_code in (404, 429)  # not theirs
    assert [ask_test_email(http, live, campaign_id).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.usefixtures("pipeline")
def test_the_cap_fails_closed_when_the_limiter_is_unreachable(settings, owner):
    live, _ = owner
    http = create_app(settings, limit_store=UnreachableStore()).test_client()
    campaign_id = email_campaign(http, live)  # the API's own limits fail open: this works
    refused = ask_test_email(http, live, campaign_id)
    assert (refused.status_code, refused.json["code"]) == (503, "service_unavailable"), refused.json
    assert "Test emails cannot be sent for a moment" in refused.json["message"]


@pytest.mark.usefixtures("pipeline")
def test_the_review_pages_test_email_has_the_same_cap(settings, amqp_channel):
    app = create_app(replace(settings, send_rate_limit_default=1000, test_emails_per_campaign_per_day=1),
                     limit_store=frozen_store())
    officer = app.test_client()
    email = new_address()
    asked = officer.get("/sign-in")
    sent = officer.post("/sign-in", data={"csrf_token": csrf_token(asked), "email": email, "next": "/campaigns"})
    password_page = officer.get(sent.headers["Location"])
    signed_in = officer.post("/sign-in/password", data={"csrf_token": csrf_token(password_page), "email": email,
                                                        "password": one_time_password(amqp_channel, email)})
    assert signed_in.status_code == 303
    created = officer.post("/v1/campaigns", json={"name": "Reminders", "type": "EMAIL"})
    campaign_id = created.json["id"]
    assert officer.put(f"/v1/campaign/{campaign_id}/email/template", json=TEMPLATE).status_code == 200
    review = officer.get(f"/campaigns/{campaign_id}/review")
    assert review.status_code == 200, review.get_data(as_text=True)[:500]
    token = csrf_token(review)
    first = officer.post(f"/campaigns/{campaign_id}/test-email", data={"csrf_token": token, "test_email": email})
    assert first.status_code == 303 and first.headers["Location"].endswith("/review?tested=1")
    second = officer.post(f"/campaigns/{campaign_id}/test-email", data={"csrf_token": token, "test_email": email})
    page = second.get_data(as_text=True)
    assert second.status_code == 429, page[:500]
    assert "Too many test emails for this campaign: at most 1 per day" in page


# -- test keys are simulated ---------------------------------------------------------------------------------------

@pytest.fixture
def smtp():
    with FakeSmtpServer() as server:
        yield server


@pytest.fixture
def delivering(settings, smtp):
    """The pipeline and sender-email, on a local SMTP server."""
    settings = replace(settings, email_transport="smtp", smtp_host="127.0.0.1", smtp_port=smtp.port)
    with running(settings, *PIPELINE, "sender-email"):
        yield settings


def recorded_test_emails(database, campaign_id: int) -> list[tuple[str, str, str]]:
    with database.session() as session:
        rows = session.execute(text(
            "SELECT message_id, status, coalesce(provider_message_id, '') FROM email_deliveries "
            "WHERE message_id LIKE :prefix"), {"prefix": f"test-{campaign_id}-%"}).all()
    return [tuple(row) for row in rows]


def test_a_test_keys_test_email_is_simulated_and_reaches_no_provider(delivering, owner, smtp, database):
    live, test = owner
    http = create_app(delivering).test_client()
    campaign_id = email_campaign(http, live, recipients=True)  # a live campaign: only the key decides
    simulated = ask_test_email(http, test, campaign_id, "simulated@agency.gov.sg")
    assert simulated.status_code == 200, simulated.json
    [(_, status, provider_id)] = poll(lambda: recorded_test_emails(database, campaign_id), bool,
                                      "the simulated test email to be recorded")
    assert status == "SENT" and provider_id.startswith("simulated-")
    # The live key's test email of the same campaign does reach the SMTP server, so the server was listening.
    assert ask_test_email(http, live, campaign_id, "real@agency.gov.sg").status_code == 200
    poll(lambda: smtp.to("real@agency.gov.sg"), bool, "the live test email")
    assert smtp.to("simulated@agency.gov.sg") == []


def test_a_test_keys_campaign_has_simulated_test_emails_whoever_asks(delivering, owner, smtp, database):
    live, test = owner
    http = create_app(delivering).test_client()
    campaign_id = email_campaign(http, test)  # created with the test key
    assert ask_test_email(http, live, campaign_id, "asked-live@agency.gov.sg").status_code == 200
    [(_, status, provider_id)] = poll(lambda: recorded_test_emails(database, campaign_id), bool,
                                      "the simulated test email to be recorded")
    assert status == "SENT" and provider_id.startswith("simulated-")
    assert smtp.to("asked-live@agency.gov.sg") == []


# -- never on the one-time passwords' queue ------------------------------------------------------------------------

@pytest.mark.usefixtures("pipeline")
def test_a_test_email_travels_on_its_own_queue_never_the_one_time_passwords(settings, owner, amqp_channel):
    live, test = owner
    http = create_app(settings, limit_store=frozen_store()).test_client()
    campaign_id = email_campaign(http, live)
    assert ask_test_email(http, live, campaign_id, "live@agency.gov.sg").status_code == 200
    assert ask_test_email(http, test, campaign_id, "simulated@agency.gov.sg").status_code == 200
    on_test_queue = poll(lambda: queued(amqp_channel, EMAIL_TEST), lambda found: len(found) >= 1,
                         "the test emails on email.test")
    on_test_queue += poll(lambda: queued(amqp_channel, EMAIL_TEST), lambda found: True, "the rest")
    if len(on_test_queue) < 2:
        on_test_queue += poll(lambda: queued(amqp_channel, EMAIL_TEST), bool, "the second test email")
    by_address = {email["to"]: email for email in on_test_queue}
    assert set(by_address) == {"live@agency.gov.sg", "simulated@agency.gov.sg"}
    assert by_address["live@agency.gov.sg"]["simulated"] is False
    assert by_address["simulated@agency.gov.sg"]["simulated"] is True
    assert all(email["message_id"].startswith(f"test-{campaign_id}-") for email in on_test_queue)
    assert queued(amqp_channel, EMAIL_PRIORITY) == []

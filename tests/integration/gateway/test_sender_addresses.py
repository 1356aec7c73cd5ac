"""Sender addresses through the API and the confirmation link's page (auth running, its email read from the priority
queue): Postman's ``/v1/settings/email/from`` routes, then a campaign template from the verified address."""

from __future__ import annotations

import json
import re

import pytest

from postman_shared.broker.topology import EMAIL_PRIORITY
from tests.integration.gateway.conftest import poll

DEFAULT = "Postman <donotreply@mail.postman.gov.sg>"
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
_LINK = re.compile(r'href="https?://[^/"]+(/sender-addresses/confirm\?token=[0-9]+\.[A-Za-z0-9_-]{43})"')


def confirmation_link(amqp_channel, address: str) -> str:
    """The path of the confirmation link in the email to ``address`` on the priority queue."""
    def next_email():
        method, _properties, body = amqp_channel.basic_get(EMAIL_PRIORITY, auto_ack=True)
        return json.loads(body) if method is not None else None

    email = poll(next_email, lambda m: m is not None and m["to"] == address, f"the email to {address}")
    found = _LINK.search(email["body"])
    assert found, email["body"]
    return found.group(1)


@pytest.mark.usefixtures("pipeline")
def test_an_address_is_added_confirmed_through_its_link_used_in_a_template_and_removed(app, sign_in, amqp_channel):
    officer = sign_in()
    address = f"bookings-{officer.user_id}@agency.gov.sg"

    added = officer.client.post("/v1/settings/email/from/verify", json={"from": f"Clinic Bookings <{address}>"})

    assert added.status_code == 200, added.json
    assert (added.json["email"], added.json["status"], added.json["method"]) == (address, "PENDING", "link")
    assert "confirmation link was emailed" in added.json["message"] and added.json["confirm_expires_at"]
    assert officer.client.get("/v1/settings/email/from").json["from"] == [DEFAULT]  # not yet
    link = confirmation_link(amqp_channel, address)

    browser = app.test_client()  # the mailbox owner's browser: not signed in
    page = browser.get(link)
    assert page.status_code == 200 and address in page.get_data(as_text=True)
    assert officer.client.get("/v1/settings/email/from").json["from"] == [DEFAULT]  # opening the link is not enough
    token = link.split("token=", 1)[1]
    csrf = _CSRF.search(page.get_data(as_text=True)).group(1)
    done = browser.post("/sender-addresses/confirm", data={"csrf_token": csrf, "token": token})
    assert done.status_code == 200 and "Sender address confirmed" in done.get_data(as_text=True)
    again = browser.post("/sender-addresses/confirm", data={"csrf_token": csrf, "token": token})
    assert again.status_code == 400 and "does not work" in again.get_data(as_text=True)  # single use

    listed = officer.client.get("/v1/settings/email/from").json
    assert listed["from"] == [address, DEFAULT]
    [entry] = listed["addresses"]
    assert (entry["email"], entry["status"], entry["method"]) == (address, "VERIFIED", "link") and entry["verified_at"]

    campaign = officer.client.post("/v1/campaigns", json={"name": "Bookings", "type": "EMAIL"}).json
    template = officer.client.put(f"/v1/campaign/{campaign['id']}/email/template", json={
        "subject": "Hi", "body": "<p>Hi</p>", "reply_to": None, "from": f"Clinic Bookings <{address}>"})
    assert template.status_code == 200, template.json
    assert template.json["template"]["from"] == f"Clinic Bookings <{address}>"

    removed = officer.client.delete(f"/v1/settings/email/from/{entry['id']}")
    assert removed.status_code == 200 and removed.json == {"id": entry["id"]}
    assert officer.client.get("/v1/settings/email/from").json == {"from": [DEFAULT], "addresses": []}
    refused = officer.client.put(f"/v1/campaign/{campaign['id']}/email/template", json={
        "subject": "Hi", "body": "<p>Hi</p>", "reply_to": None, "from": f"Clinic Bookings <{address}>"})
    assert (refused.status_code, refused.json["code"]) == (400, "invalid_from_address")


@pytest.mark.usefixtures("auth_service")
@pytest.mark.parametrize("body, status, code, words", [
    ({}, 400, "api_validation", '"email" is required'),
    ({"email": 5}, 400, "api_validation", '"email" must be a string'),
    ({"email": " "}, 400, "api_validation", "not allowed to be empty"),
    ({"email": "someone@gmail.com"}, 400, "invalid_from_address", "not in a domain allowed"),
    ({"email": "donotreply@mail.postman.gov.sg"}, 400, "invalid_from_address", "default address"),
    ({"email": "a@agency.gov.sg, b@agency.gov.sg"}, 400, "invalid_from_address", "exactly one address"),
    ({"email": "x" * 5000 + "@agency.gov.sg"}, 400, "malformed", "larger than 4096 bytes"),
])
def test_an_address_that_cannot_be_verified_is_refused_with_the_reason(sign_in, body, status, code, words):
    officer = sign_in()
    response = officer.client.post("/v1/settings/email/from/verify", json=body)
    assert (response.status_code, response.json["code"]) == (status, code)
    assert words in response.json["message"]


@pytest.mark.usefixtures("auth_service")
def test_a_second_link_within_a_minute_is_429_with_retry_after(sign_in, amqp_channel):
    officer = sign_in()
    address = f"desk-{officer.user_id}@agency.gov.sg"
    assert officer.client.post("/v1/settings/email/from/verify", json={"email": address}).status_code == 200
    confirmation_link(amqp_channel, address)

    again = officer.client.post("/v1/settings/email/from/verify", json={"email": address})

    assert (again.status_code, again.json["code"]) == (429, "rate_limit") and int(again.headers["Retry-After"]) >= 1


@pytest.mark.usefixtures("auth_service")
@pytest.mark.parametrize("link", ["/sender-addresses/confirm", "/sender-addresses/confirm?token=forged",
                                  "/sender-addresses/confirm?token=12." + "A" * 43])
def test_a_confirmation_link_that_does_not_work_says_so_and_changes_nothing(http, link):
    page = http.get(link)
    assert page.status_code == 400 and "This confirmation link does not work" in page.get_data(as_text=True)

"""Unsubscribing through the gateway, with the campaign service in-process: upstream's API (PUT and DELETE
/v1/unsubscribe/{campaignId}/{recipient}), the page a link opens (confirm, reason, undo) and the one-click POST of
RFC 8058. A link whose campaign, recipient, version or signature was changed gets a plain refusal and changes
nothing; the page never unsubscribes on GET."""

from __future__ import annotations

import re
import secrets
from dataclasses import replace
from urllib.parse import quote, urlsplit

import pytest
from flask.testing import FlaskClient

from postman_campaign import suppression
from postman_campaign.models import Campaign, EmailTemplate
from postman_gateway.app import create_app
from postman_shared.unsubscribe_links import UnsubscribeLinks
from tests.support.inprocess import running

OWNER_FROM = "Health Promotion Board via Postman <donotreply@mail.postman.gov.sg>"
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@pytest.fixture
def campaign_service(settings):
    with running(settings, "campaign"):
        yield


def _email_campaign(database, channel: str = "EMAIL") -> tuple[int, int]:
    owner = secrets.randbelow(2**52) + 1
    with database.unit_of_work() as session:
        campaign = Campaign(user_id=owner, name="Screening invites", type=channel, recipient_keys=[])
        session.add(campaign)
        session.flush()
        if channel == "EMAIL":
            session.add(EmailTemplate(campaign_id=campaign.id, subject="Hi", body="<p>Hi</p>", params=[],
                                      from_address=OWNER_FROM))
        return campaign.id, owner


def _recipient() -> str:
    return f"ana.{secrets.token_hex(4)}@example.com"


def _suppressed(database, owner: int, address: str) -> list[tuple[str, str]]:
    with database.session() as session:
        return [(s.outcome, s.reason) for s in suppression.screen(session, "EMAIL", [(owner, address)])]


def _page_url(settings, campaign_id: int, recipient: str) -> str:
    url = UnsubscribeLinks.from_settings(settings).url(campaign_id, recipient)
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _signed(settings, campaign_id: int, recipient: str) -> dict[str, str]:
    version, digest = UnsubscribeLinks.from_settings(settings).sign(campaign_id, recipient)
    return {"v": version, "h": digest}


@pytest.mark.usefixtures("campaign_service")
def test_the_api_unsubscribes_once_and_resubscribes(http: FlaskClient, settings, database):
    campaign_id, owner = _email_campaign(database)
    recipient = _recipient()
    url = f"/v1/unsubscribe/{campaign_id}/{quote(recipient)}"

    first = http.put(url, json={**_signed(settings, campaign_id, recipient), "reason": "Too many emails"})
    again = http.put(url, json=_signed(settings, campaign_id, recipient))

    assert first.status_code == 201 and again.status_code == 200
    assert first.json["campaignId"] == campaign_id and first.json["recipient"] == recipient
    assert first.json["createdAt"] == again.json["createdAt"]
    assert _suppressed(database, owner, recipient) == [("UNSUBSCRIBED", "unsubscribe")]

    back = http.delete(url, json=_signed(settings, campaign_id, recipient))

    assert (back.status_code, back.json) == (200, {"campaignId": campaign_id, "recipient": recipient})
    assert _suppressed(database, owner, recipient) == []


@pytest.mark.usefixtures("campaign_service")
def test_an_altered_link_is_refused_and_changes_nothing(http: FlaskClient, settings, database):
    campaign_id, owner = _email_campaign(database)
    other_campaign, _ = _email_campaign(database)
    sms_campaign, _ = _email_campaign(database, "SMS")
    recipient, other = _recipient(), _recipient()
    good = _signed(settings, campaign_id, recipient)
    attempts = [
        (campaign_id, other, good),  # another recipient
        (other_campaign, recipient, good),  # another campaign
        (campaign_id, recipient, {**good, "h": good["h"][:-1] + ("0" if good["h"][-1] != "0" else "1")}),
        (campaign_id, recipient, {**good, "v": "v9"}),  # a key that does not exist
        (campaign_id, recipient, {"v": good["v"]}),  # no hash
        (sms_campaign, recipient, _signed(settings, sms_campaign, recipient)),  # not an email campaign
        (987654321987, recipient, _signed(settings, 987654321987, recipient)),  # no such campaign
    ]
    for target, address, body in attempts:
        response = http.put(f"/v1/unsubscribe/{target}/{quote(address)}", json=body)
        assert (response.status_code, response.json) == (
            400, {"code": "invalid_parameters", "message": "Invalid unsubscribe request"}), (target, address, body)
    assert _suppressed(database, owner, recipient) == _suppressed(database, owner, other) == []


def test_a_link_signed_with_a_retired_key_still_works_and_one_with_an_unknown_key_does_not(settings, database):
    old = replace(settings, unsubscribe_keys="v1:an-old-unsubscribe-key-0001")
    rotated = replace(settings, unsubscribe_keys="v2:the-new-unsubscribe-key-0002,v1:an-old-unsubscribe-key-0001")
    dropped = replace(settings, unsubscribe_keys="v2:the-new-unsubscribe-key-0002")
    version, digest = UnsubscribeLinks.from_settings(old).sign(12, "ana@example.com")

    assert version == "v1"
    assert UnsubscribeLinks.from_settings(rotated).verify(12, "ana@example.com", version, digest)
    assert UnsubscribeLinks.from_settings(rotated).sign(12, "ana@example.com")[0] == "v2"
    assert not UnsubscribeLinks.from_settings(dropped).verify(12, "ana@example.com", version, digest)


@pytest.mark.usefixtures("campaign_service")
def test_the_page_asks_before_unsubscribing_records_the_reason_and_can_undo(http: FlaskClient, settings, database):
    campaign_id, owner = _email_campaign(database)
    recipient = _recipient()
    page_url = _page_url(settings, campaign_id, recipient)

    page = http.get(page_url)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Health Promotion Board via Postman" in text and recipient in text
    assert _suppressed(database, owner, recipient) == []  # opening the link changes nothing

    done = http.post(page_url, data={"csrf_token": _CSRF.search(text).group(1), "action": "unsubscribe",
                                     "reason": "too_many", "other": "  weekly  is plenty "})
    assert done.status_code == 200 and "You have unsubscribed" in done.get_data(as_text=True)
    assert "I receive too many emails: weekly is plenty" in done.get_data(as_text=True)
    assert _suppressed(database, owner, recipient) == [("UNSUBSCRIBED", "unsubscribe")]

    again = http.get(page_url)
    assert "You have unsubscribed" in again.get_data(as_text=True)
    undone = http.post(page_url, data={"csrf_token": _CSRF.search(again.get_data(as_text=True)).group(1),
                                       "action": "resubscribe"})
    assert "You are subscribed again" in undone.get_data(as_text=True)
    assert _suppressed(database, owner, recipient) == []


@pytest.mark.usefixtures("campaign_service")
def test_the_pages_form_needs_its_csrf_token_and_a_known_reason(http: FlaskClient, settings, database):
    campaign_id, owner = _email_campaign(database)
    recipient = _recipient()
    page_url = _page_url(settings, campaign_id, recipient)
    token = _CSRF.search(http.get(page_url).get_data(as_text=True)).group(1)

    forged = http.post(page_url, data={"action": "unsubscribe"})
    odd = http.post(page_url, data={"csrf_token": token, "action": "unsubscribe", "reason": "because"})

    assert forged.status_code == 400
    assert odd.status_code == 400 and "Choose one of the reasons" in odd.get_data(as_text=True)
    assert _suppressed(database, owner, recipient) == []


@pytest.mark.usefixtures("campaign_service")
def test_one_click_unsubscribes_with_no_page_and_no_cookie(settings, database):
    campaign_id, owner = _email_campaign(database)
    recipient = _recipient()
    page_url = _page_url(settings, campaign_id, recipient)
    mail_client = create_app(settings).test_client(use_cookies=False)

    response = mail_client.post(page_url, data={"List-Unsubscribe": "One-Click"})
    forged = mail_client.post(page_url.replace("h=", "h=0"), data={"List-Unsubscribe": "One-Click"})

    assert (response.status_code, response.mimetype) == (200, "text/plain")
    assert response.get_data(as_text=True) == "You have been unsubscribed.\n"
    assert _suppressed(database, owner, recipient) == [("UNSUBSCRIBED", "unsubscribe")]
    assert forged.status_code == 400 and forged.mimetype == "text/plain"


def test_an_altered_link_shows_a_plain_refusal_page(http: FlaskClient, settings):
    page_url = _page_url(settings, 12, "ana@example.com")
    response = http.get(page_url.replace("ana@", "bob@"))
    assert response.status_code == 400
    assert "This unsubscribe link does not work" in response.get_data(as_text=True)


def test_unsubscribe_requests_are_limited_per_client_ip(settings):
    http = create_app(replace(settings, unsubscribe_ip_limit_per_minute=2)).test_client()
    page_url = _page_url(settings, 12, "ana@example.com").replace("h=", "h=0")  # refused, but counted
    answers = [http.get(page_url).status_code for _ in range(3)]
    api = http.put("/v1/unsubscribe/12/ana@example.com", json={"h": "0", "v": "test1"})
    assert answers == [400, 400, 429] and api.status_code == 429 and api.json["code"] == "rate_limit"


def test_an_oversized_body_is_refused_before_it_is_read(http: FlaskClient):
    response = http.put("/v1/unsubscribe/12/ana@example.com", json={"h": "0", "v": "test1", "reason": "x" * 5000})
    assert response.status_code == 400 and "larger than" in response.json["message"]


def test_outside_local_development_the_gateway_refuses_to_start_without_unsubscribe_keys(settings):
    with pytest.raises(Exception, match="UNSUBSCRIBE_KEYS must be set"):
        create_app(replace(settings, unsubscribe_keys="", public_url="https://postman.example.gov.sg"))
    create_app(replace(settings, unsubscribe_keys="", public_url="http://localhost:8080"))  # make run's default

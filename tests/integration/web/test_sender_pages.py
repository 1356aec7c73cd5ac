"""Settings > Sender addresses through the pages, the confirmation link's signed-out page, and the From drop-down of
the template step: the default address or the officer's verified ones, with a name the officer types."""

from __future__ import annotations

import html
import re

import pytest

from tests.integration.gateway.test_sender_addresses import confirmation_link
from tests.integration.web.conftest import csrf_token, post_form
from tests.integration.web.test_campaign_pages import error_summary
from tests.support.inprocess import running

DEFAULT_ADDRESS = "donotreply@mail.postman.gov.sg"


@pytest.fixture
def services(settings):
    with running(settings, "auth", "campaign", "renderer"):
        yield


@pytest.fixture
def officer(services, web_sign_in):
    return web_sign_in()


def test_an_address_is_added_confirmed_offered_as_the_from_and_removed(app, officer, amqp_channel):
    address = f"desk-{abs(hash(officer.email)) % 10**8}@agency.gov.sg"
    added = post_form(officer.client, "/settings/senders/new", email=address)
    assert added.status_code == 303 and added.headers["Location"] == "/settings?done=sender-link-sent#senders"
    settings_page = officer.text("/settings?done=sender-link-sent")
    assert "A confirmation link was emailed to the address" in settings_page
    assert address in settings_page and "Waiting for confirmation" in settings_page
    link = confirmation_link(amqp_channel, address)

    browser = app.test_client()  # the mailbox owner's browser: not signed in
    page = browser.get(link)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and f"Confirm {address}" in text
    token = re.search(r'name="token" value="([^"]+)"', text).group(1)
    forged = app.test_client().post("/sender-addresses/confirm", data={"csrf_token": csrf_token(page), "token": token})
    assert forged.status_code == 400  # another browser's post: its CSRF token is not bound to that browser
    done = browser.post("/sender-addresses/confirm", data={"csrf_token": csrf_token(page), "token": token})
    assert done.status_code == 200 and address in done.get_data(as_text=True)

    settings_page = officer.text("/settings")
    row = re.search(r'<tr id="sender-(\d+)">.*?</tr>', settings_page, re.DOTALL)
    assert row and "Verified" in row.group(0) and address in row.group(0)
    sender_id = row.group(1)

    campaign = post_form(officer.client, "/campaigns/new", name="Bookings", channel="EMAIL").headers["Location"]
    template_page = officer.text(campaign)
    options = re.findall(r'<option value="([^"]+)"', template_page)
    assert options == [DEFAULT_ADDRESS, address]
    saved = post_form(officer.client, campaign, subject="Your booking", body="<p>See you</p>", reply_to="",
                      from_name="Clinic Bookings", from_address=address)
    assert saved.status_code == 303, saved.get_data(as_text=True)
    again = officer.text(campaign)
    assert 'value="Clinic Bookings"' in again and f'<option value="{address}" selected>' in again

    confirm_page = officer.text(f"/settings/senders/{sender_id}/remove")
    assert "Remove this sender address?" in confirm_page and address in confirm_page
    removed = post_form(officer.client, f"/settings/senders/{sender_id}/remove")
    assert removed.status_code == 303 and removed.headers["Location"] == "/settings?done=sender-removed#senders"
    assert 'id="no-senders"' in officer.text("/settings")

    stale = officer.text(campaign)  # the saved From is shown for what it is, and cannot be saved again
    assert f"{address} (not one you may send from: choose another)" in html.unescape(stale)
    refused = post_form(officer.client, campaign, subject="Your booking", body="<p>See you</p>", reply_to="",
                        from_name="Clinic Bookings", from_address=address)
    assert refused.status_code == 400
    [(field, message)] = error_summary(refused.get_data(as_text=True))
    assert field == "from_address" and "Settings &gt; Sender addresses" in message


def test_a_name_on_the_default_address_reads_via_postman_and_is_edited_without_it(officer):
    campaign = post_form(officer.client, "/campaigns/new", name="Flu jabs", channel="EMAIL").headers["Location"]
    assert 'id="from_name"' in officer.text(campaign) and 'name="from"' not in officer.text(campaign)
    saved = post_form(officer.client, campaign, subject="Flu jabs", body="<p>Come</p>", reply_to="",
                      from_name="Ministry of Health", from_address=DEFAULT_ADDRESS)
    assert saved.status_code == 303, saved.get_data(as_text=True)
    details = officer.client.get(f"/v1/campaign/{campaign.split('/')[2]}/email").json
    assert details["email_templates"]["from"] == f"Ministry of Health via Postman <{DEFAULT_ADDRESS}>"
    page = officer.text(campaign)
    assert 'value="Ministry of Health"' in page and "via Postman" not in page.split('id="from_name"')[1][:200]

    for name, words in (("ceo@moh.gov.sg", "looks like an address"), ("=?utf-8?q?x?=", "encoded word")):
        refused = post_form(officer.client, campaign, subject="Flu jabs", body="<p>Come</p>", reply_to="",
                            from_name=name, from_address=DEFAULT_ADDRESS)
        assert refused.status_code == 400
        [(field, message)] = error_summary(refused.get_data(as_text=True))
        assert field == "from_name" and words in message


@pytest.mark.parametrize("email, words", [
    ("", "Enter the email address you want to send from"),
    ("someone@gmail.com", "not in a domain allowed"),
    (DEFAULT_ADDRESS, "default address"),
])
def test_an_address_that_cannot_be_added_is_shown_on_its_field(officer, email, words):
    refused = post_form(officer.client, "/settings/senders/new", email=email)
    assert refused.status_code == 400
    [(field, message)] = error_summary(refused.get_data(as_text=True))
    assert field == "email" and words in message


def test_another_officers_address_cannot_be_removed_and_a_second_link_waits(officer, web_sign_in, amqp_channel):
    address = f"frontdesk-{abs(hash(officer.email)) % 10**8}@agency.gov.sg"
    post_form(officer.client, "/settings/senders/new", email=address)
    confirmation_link(amqp_channel, address)
    sender_id = re.search(r'<tr id="sender-(\d+)">', officer.text("/settings")).group(1)

    intruder = web_sign_in()
    assert intruder.client.get(f"/settings/senders/{sender_id}/remove").status_code == 404
    page = intruder.client.get("/settings")
    assert intruder.client.post(f"/settings/senders/{sender_id}/remove",
                                data={"csrf_token": csrf_token(page)}).status_code == 404
    assert address in officer.text("/settings")

    settings_page = officer.client.get("/settings")
    resent = officer.client.post(f"/settings/senders/{sender_id}/resend",
                                 data={"csrf_token": csrf_token(settings_page)})
    assert resent.status_code == 429 and "less than a minute ago" in resent.get_data(as_text=True)

"""Settings through the pages: an API key shown once and then only by its last five characters, a test key, revoking
with a confirmation; Twilio credentials checked by a real test SMS (the twilio library against the local fake) before
they are saved, verified again and removed; a Telegram bot checked with the local Bot API fake; and the errors of each
form on the field they concern, never with a secret in them."""

from __future__ import annotations

import re
import secrets
from dataclasses import replace

import pytest

from postman_shared.credentials import new_master_key
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio
from tests.integration.web.conftest import post_form
from tests.support.inprocess import running
from tests.support.module_fakes import fresh_twilio, purge_queues

TWILIO_KEY, TWILIO_SECRET = "SK" + secrets.token_hex(16), "twilio-secret-" + secrets.token_hex(8)
ACCOUNT = {"label": "moh-sms", "account_sid": "AC" + secrets.token_hex(16), "api_key": TWILIO_KEY,
           "api_secret": TWILIO_SECRET, "messaging_service_sid": "MG" + secrets.token_hex(16),
           "test_recipient": "+65 8765 4321"}
BOT_TOKEN = f"{secrets.randbelow(10**9) + 10**9}:{secrets.token_urlsafe(26)[:35]}"


@pytest.fixture(scope="module")
def module_twilio():
    with FakeTwilio(api_key=TWILIO_KEY, api_secret=TWILIO_SECRET) as fake:
        yield fake


@pytest.fixture(scope="module")
def telegram():
    """The module's Bot API fake (one test of the module adds the bot)."""
    with FakeTelegram(tokens={BOT_TOKEN}) as fake:
        yield fake


@pytest.fixture(scope="module")
def module_system(module_settings, module_twilio, telegram):
    """The module's settings wired to its fakes, with the services started once for the module (each test signs in
    an officer of its own)."""
    wired = replace(module_settings, credentials_key=new_master_key(), twilio_api_base=module_twilio.base_url,
                    telegram_api_base=telegram.base_url)
    purge_queues(wired.amqp_url)
    with running(wired, "auth", "campaign", "stats", "sender-sms", "sender-telegram"):
        yield wired


@pytest.fixture
def settings(module_system):
    return module_system


@pytest.fixture
def twilio(module_system, module_twilio):
    """The module's Twilio fake, fresh for this test: nothing sent yet."""
    return fresh_twilio(module_twilio)


@pytest.fixture
def officer(twilio, web_sign_in):
    return web_sign_in()


def test_a_new_api_key_is_shown_once_works_and_is_listed_by_its_last_five(officer, http):
    created = post_form(officer.client, "/settings/api-keys/new", label="Reminder <system>")
    page = created.get_data(as_text=True)
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    key = re.search(r'<input class="input code" id="api-key" type="text" value="([^"]+)" readonly', page).group(1)
    assert "It will not be shown again" in page and "Reminder &lt;system&gt;" in page
    assert http.get("/v1/campaigns", headers={"Authorization": f"Bearer {key}"}).status_code == 200

    listing = officer.text("/settings")
    assert key not in listing and f"…{key[-5:]}" in listing and "Reminder &lt;system&gt;" in listing
    assert '<strong class="tag tag--green">Live</strong>' in listing


def test_a_test_key_is_tagged_and_a_key_without_a_label_is_refused(officer):
    refused = post_form(officer.client, "/settings/api-keys/new", label="  ")
    assert refused.status_code == 400 and '<a href="#label">Enter a label' in refused.get_data(as_text=True)
    post_form(officer.client, "/settings/api-keys/new", label="sandbox", test="yes")
    assert '<strong class="tag tag--yellow">Test</strong>' in officer.text("/settings")


def test_revoking_a_key_asks_first_then_the_key_stops_working(officer, http):
    created = post_form(officer.client, "/settings/api-keys/new", label="laptop").get_data(as_text=True)
    key = re.search(r'id="api-key" type="text" value="([^"]+)"', created).group(1)
    key_id = re.search(r'<tr id="api-key-(\d+)">', officer.text("/settings")).group(1)

    confirm = officer.text(f"/settings/api-keys/{key_id}/revoke")
    assert "You are about to revoke the API key “laptop”" in confirm
    assert http.get("/v1/campaigns", headers={"Authorization": f"Bearer {key}"}).status_code == 200  # not yet

    revoked = post_form(officer.client, f"/settings/api-keys/{key_id}/revoke")
    assert revoked.status_code == 303 and revoked.headers["Location"] == "/settings?done=key-revoked"
    after = officer.text("/settings?done=key-revoked")
    assert "The API key was revoked" in after and f'id="api-key-{key_id}"' not in after
    assert http.get("/v1/campaigns", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    gone = officer.client.get(f"/settings/api-keys/{key_id}/revoke")
    assert gone.status_code == 404 and gone.mimetype == "text/html"  # a page in plain words, not the API's JSON
    assert "You have no API key with that number. It may have been revoked already." in gone.get_data(as_text=True)


def test_another_officers_key_cannot_be_revoked(officer, web_sign_in):
    post_form(officer.client, "/settings/api-keys/new", label="mine")
    key_id = re.search(r'<tr id="api-key-(\d+)">', officer.text("/settings")).group(1)
    other = web_sign_in()
    assert other.client.get(f"/settings/api-keys/{key_id}/revoke").status_code == 404
    assert post_form(other.client, "/settings", f"/settings/api-keys/{key_id}/revoke").status_code == 404
    assert f'id="api-key-{key_id}"' in officer.text("/settings")


def test_a_key_is_created_with_contacts_and_the_list_shows_its_expiry_and_contacts(officer, web_sign_in):
    form = officer.text("/settings/api-keys/new")
    assert '<textarea class="textarea" id="notification_contacts" name="notification_contacts"' in form
    assert "30, 7 and 1 days before" in form
    created = post_form(officer.client, "/settings/api-keys/new", label="Clinic reminders",
                        notification_contacts="Team@Tech.gov.sg\nops@agency.gov.sg, team@tech.gov.sg")
    page = created.get_data(as_text=True)
    assert created.status_code == 200
    assert '<dd id="notification-contacts">team@tech.gov.sg<br>ops@agency.gov.sg</dd>' in page

    listing = officer.text("/settings")
    key_id = re.search(r'<tr id="api-key-(\d+)">', listing).group(1)
    row = listing[listing.index(f'<tr id="api-key-{key_id}">'):]
    row = row[:row.index("</tr>")]
    assert '<td class="notification-contacts">You<br>team@tech.gov.sg<br>ops@agency.gov.sg</td>' in row
    assert re.search(r'<td><time datetime="[^"]+">\d{1,2} \w+ \d{4}, \d{1,2}:\d\d[ap]m \(Singapore time\)</time></td>',
                     row)
    assert "emailed 30, 7 and 1 days before a key expires and when it is revoked" in listing

    other = web_sign_in().text("/settings")  # another officer sees neither the key nor its contacts
    assert f'id="api-key-{key_id}"' not in other and "team@tech.gov.sg" not in other and 'id="no-api-keys"' in other


@pytest.mark.parametrize(("contacts", "error"), [
    (" ".join(f"p{n}@tech.gov.sg" for n in range(6)), "Enter at most 5 addresses, not 6"),
    ("ok@tech.gov.sg\nnot-an-address", "“not-an-address” is not an email address, like team@agency.gov.sg"),
])
def test_bad_contacts_are_refused_on_their_field_and_make_no_key(officer, contacts, error):
    refused = post_form(officer.client, "/settings/api-keys/new", label="ci", notification_contacts=contacts)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and f'<a href="#notification_contacts">{error}' in page
    assert 'id="notification_contacts-error"' in page and 'value="ci"' in page  # the form keeps what was typed
    assert 'id="no-api-keys"' in officer.text("/settings")


def test_twilio_credentials_are_checked_with_a_test_sms_saved_verified_and_removed(officer, twilio):
    added = post_form(officer.client, "/settings/twilio/new", **ACCOUNT)
    assert added.status_code == 303 and added.headers["Location"] == "/settings?done=twilio-added"
    [test_sms] = twilio.sent
    assert test_sms.to == "+6587654321" and test_sms.messaging_service_sid == ACCOUNT["messaging_service_sid"]
    listing = officer.text("/settings?done=twilio-added")
    assert "checked with a test SMS and saved" in listing and "<td>moh-sms</td>" in listing
    assert f"Twilio account {ACCOUNT['account_sid'][:6]}…{ACCOUNT['account_sid'][-4:]}" in listing
    assert TWILIO_SECRET not in listing
    credential_id = re.search(r'<tr id="credential-(\d+)">', listing).group(1)

    verified = post_form(officer.client, f"/settings/credentials/{credential_id}/verify", recipient="+6591234567")
    assert verified.status_code == 200 and 'id="test-sent"' in verified.get_data(as_text=True)
    assert twilio.sent[-1].to == "+6591234567"

    assert "You are about to remove the Twilio credentials “moh-sms”" in officer.text(
        f"/settings/credentials/{credential_id}/remove")
    removed = post_form(officer.client, f"/settings/credentials/{credential_id}/remove")
    assert removed.headers["Location"] == "/settings?done=credential-removed"
    assert "<td>moh-sms</td>" not in officer.text("/settings") and 'id="no-twilio"' in officer.text("/settings")


@pytest.mark.parametrize("change, field, words", [
    ({"api_secret": "wrong-secret"}, "account_sid", "Twilio refused these credentials"),
    ({"test_recipient": "12"}, "test_recipient", "not a valid phone number"),
    ({"label": "Not OK"}, "label", "lower-case letters"),
    ({"messaging_service_sid": ""}, "messaging_service_sid", "Enter the messaging service SID"),
])
def test_twilio_credentials_that_do_not_work_are_refused_on_their_field_and_not_saved(officer, change, field,
                                                                                       words):
    refused = post_form(officer.client, "/settings/twilio/new", **(ACCOUNT | change))
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and f'<a href="#{field}">' in page and words in page
    assert f'id="{field}-error"' in page
    assert TWILIO_SECRET not in page and "wrong-secret" not in page  # a secret is never shown back
    assert 'id="no-twilio"' in officer.text("/settings")


def test_a_telegram_bot_is_checked_listed_with_subscribe_steps_and_its_test_needs_a_subscriber(officer, telegram):
    refused = post_form(officer.client, "/settings/telegram/new", label="moh-bot", bot_token="not a token")
    assert refused.status_code == 400 and '<a href="#bot_token">That is not a bot token' in \
        refused.get_data(as_text=True)

    added = post_form(officer.client, "/settings/telegram/new", label="moh-bot", bot_token=BOT_TOKEN)
    assert added.status_code == 303 and added.headers["Location"] == "/settings?done=bot-added"
    username = f"postman_{BOT_TOKEN.split(':')[0]}_bot"
    listing = officer.text("/settings")
    assert f'<a href="https://t.me/{username}">@{username}</a>' in listing and BOT_TOKEN not in listing
    assert "<code>/start</code>" in listing and "<code>/updatenumber</code>" in listing
    credential_id = re.search(r'<tr id="credential-(\d+)">', listing).group(1)

    not_subscribed = post_form(officer.client, f"/settings/credentials/{credential_id}/verify",
                               recipient="+6591234567")
    assert not_subscribed.status_code == 400
    assert "has not subscribed to the bot" in not_subscribed.get_data(as_text=True)

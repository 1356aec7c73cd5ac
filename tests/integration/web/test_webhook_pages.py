"""Settings > Webhooks through the pages: add a webhook (its secret shown once), send a test event to a local receiver
that checks the signature, see the delivery log, make a new secret, a refused address said beside the field, remove;
another officer sees none of it."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from postman_shared.credentials import new_master_key
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.integration.web.conftest import csrf_token, post_form
from tests.support.inprocess import running


@pytest.fixture
def settings(settings):
    return replace(settings, webhook_allow_private=True, credentials_key=new_master_key())


@pytest.fixture
def services(settings):
    with running(settings, "auth", "campaign", "stats"):  # campaign: the settings overview's credentials
        yield


@pytest.fixture
def receiver():
    with WebhookReceiver() as fake:
        yield fake


def test_a_webhook_is_added_tested_logged_rotated_and_removed(services, web_sign_in, receiver):
    officer = web_sign_in()
    page = officer.text("/settings")
    assert 'href="/settings/webhooks"' in page
    added = post_form(officer.client, "/settings/webhooks", "/settings/webhooks/campaign",
                      **{"url-campaign": receiver.url("/ok")})
    text = added.get_data(as_text=True)
    assert added.status_code == 200 and added.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="webhook-secret" type="text" value="(whsec_[0-9a-f]{64})"', text).group(1)
    receiver.secrets["/ok"] = secret

    tested = post_form(officer.client, "/settings/webhooks", "/settings/webhooks/campaign/test")
    text = tested.get_data(as_text=True)
    assert tested.status_code == 200 and "The test event was delivered: your endpoint answered 200" in text
    [received] = receiver.received
    assert received.signature_ok and received.json()["type"] == "test"
    overview = officer.text("/settings/webhooks")
    assert 'id="campaign-log"' in overview and "Delivered" in overview and secret not in overview

    rotated = post_form(officer.client, "/settings/webhooks", "/settings/webhooks/campaign/secret")
    new_secret = re.search(r'value="(whsec_[0-9a-f]{64})"', rotated.get_data(as_text=True)).group(1)
    assert new_secret != secret

    other = web_sign_in()
    assert receiver.url("/ok") not in other.text("/settings/webhooks")
    assert other.client.post("/settings/webhooks/campaign/test",
                             data={"csrf_token": csrf_token(other.client.get("/settings/webhooks"))}).status_code == 404

    refused = post_form(officer.client, "/settings/webhooks", "/settings/webhooks/transactional",
                        **{"url-transactional": "ftp://example.gov.sg/x"})
    assert refused.status_code == 400 and "url must start with https://" in refused.get_data(as_text=True)

    removed = post_form(officer.client, "/settings/webhooks/campaign/remove")
    assert removed.status_code == 303 and removed.headers["Location"] == "/settings/webhooks?done=removed"
    assert receiver.url("/ok") not in officer.text("/settings/webhooks")

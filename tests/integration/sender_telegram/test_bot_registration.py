"""AddBot and SendTestMessage over gRPC, with campaign storing the credential and a local Telegram: the token is
checked, sealed, stored and the webhook set, or nothing is stored at all."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import text

from postman.v1 import campaign_pb2, campaign_pb2_grpc, senders_pb2, senders_pb2_grpc
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError
from postman_shared.webhooks import telegram_webhook_secret
from tests.fakes.telegram import BLOCKED, FakeTelegram
from tests.integration.sender_telegram.conftest import StoredBot, new_bot_token
from tests.support import service_identity
from tests.support.inprocess import running


@pytest.fixture
def token() -> str:
    return new_bot_token()


@pytest.fixture
def user_id() -> int:
    return secrets.randbelow(10**9) + 1


@pytest.fixture
def registry_settings(tg_settings):
    return replace(tg_settings, public_url="https://postman.example.gov.sg")


@pytest.fixture
def telegram(token) -> Iterator[FakeTelegram]:
    with FakeTelegram(tokens={token}, blocked={"7000065910000007"}) as fake:
        yield fake


@pytest.fixture
def senders(registry_settings, telegram) -> Iterator[senders_pb2_grpc.TelegramSenderServiceStub]:
    settings = replace(registry_settings, telegram_api_base=telegram.base_url)
    with running(settings, "campaign", "sender-telegram"):
        yield service_identity.stub(settings.telegram_sender_addr, senders_pb2_grpc.TelegramSenderServiceStub)


def add_bot(senders, user_id: int, token: str, label: str = "", campaign_id: int = 0):
    return client.call(senders.AddBot, senders_pb2.AddBotRequest(user_id=user_id, campaign_id=campaign_id,
                                                                  label=label, bot_token=token))


def credentials_of(database, user_id: int) -> list:
    with database.session() as session:
        return session.execute(text("SELECT id, channel, label, description, sealed FROM credentials "
                                    "WHERE user_id = :u"), {"u": user_id}).all()


def test_a_good_token_is_stored_sealed_and_the_webhook_points_at_the_gateway_with_the_bots_secret(
        senders, telegram, database, registry_settings, user_id, token):
    stored = add_bot(senders, user_id, token, label="agency-bot")

    bot_id = token.split(":")[0]
    assert (stored.label, stored.description) == ("agency-bot", f"@postman_{bot_id}_bot")
    ((credential_id, channel, label, description, sealed),) = credentials_of(database, user_id)
    assert (credential_id, channel, label, description) == (stored.credential_id, "TELEGRAM", "agency-bot",
                                                            stored.description)
    assert token.encode() not in bytes(sealed) and token.split(":")[1].encode() not in bytes(sealed)
    webhook = telegram.webhooks[token]
    assert webhook.url == f"https://postman.example.gov.sg/telegram/webhook/{stored.credential_id}"
    assert webhook.secret_token == telegram_webhook_secret(registry_settings.callback_signing_key,
                                                           stored.credential_id)
    assert webhook.allowed_updates == ["message"]
    assert token not in repr(stored)


def test_a_bot_added_for_a_campaign_is_assigned_to_it(senders, registry_settings, user_id, token):
    campaigns = service_identity.stub(registry_settings.campaign_addr, campaign_pb2_grpc.CampaignServiceStub)
    campaign = client.call(campaigns.CreateCampaign, campaign_pb2.CreateCampaignRequest(
        user_id=user_id, name="Flood alerts", type="TELEGRAM"))

    stored = add_bot(senders, user_id, token, campaign_id=campaign.id)

    found = client.call(campaigns.GetCampaign, campaign_pb2.CampaignRef(campaign_id=campaign.id, user_id=user_id))
    assert found.credential_id == stored.credential_id


@pytest.mark.parametrize("bad", ["", "not-a-token", "123456:short", "abc:AAHdefghijklmnopqrstuvwxyz0123456789",
                                 "123456:AAH defghijklmnopqrstuvwxyz0123456789"])
def test_a_string_that_is_not_a_bot_token_is_refused_without_asking_telegram(senders, telegram, database, user_id,
                                                                             bad):
    with pytest.raises(ServiceError) as refused:
        add_bot(senders, user_id, bad)

    assert refused.value.code == "invalid_credentials"
    assert "not a bot token" in refused.value.message
    assert telegram.calls == []
    assert credentials_of(database, user_id) == []


def test_a_token_telegram_refuses_is_invalid_credentials_and_nothing_is_stored(senders, telegram, database,
                                                                               user_id):
    revoked = new_bot_token()
    with pytest.raises(ServiceError) as refused:
        add_bot(senders, user_id, revoked)

    assert refused.value.code == "invalid_credentials"
    assert "Telegram refused the bot token" in refused.value.message
    assert revoked.split(":")[1] not in refused.value.message
    assert [c.method for c in telegram.calls] == ["getMe"]
    assert credentials_of(database, user_id) == []


def test_a_webhook_telegram_refuses_leaves_no_stored_credential(tg_settings, database, user_id, token):
    # A plain-http PUBLIC_URL: the real Bot API refuses it, and so does the fake with require_https.
    with FakeTelegram(tokens={token}, require_https=True) as telegram, \
            running(replace(tg_settings, telegram_api_base=telegram.base_url, public_url="http://127.0.0.1:1"),
                    "campaign", "sender-telegram"):
        senders = service_identity.stub(tg_settings.telegram_sender_addr, senders_pb2_grpc.TelegramSenderServiceStub)
        with pytest.raises(ServiceError) as refused:
            add_bot(senders, user_id, token, label="will-not-stay")
        webhooks = dict(telegram.webhooks)

    assert refused.value.code == "service_unavailable"
    assert "HTTPS" in refused.value.message and "nothing was saved" in refused.value.message
    assert token.split(":")[1] not in refused.value.message
    assert webhooks == {}
    assert credentials_of(database, user_id) == []


def test_send_test_message_reaches_a_subscribed_number_and_explains_an_unsubscribed_one(
        senders, telegram, subscribers, user_id, token):
    stored = add_bot(senders, user_id, token)
    bot = StoredBot(stored.credential_id, user_id, token)
    subscribers.subscribe(bot.bot_id, 5550001, 5550001, "+6591234567")

    result = client.call(senders.SendTestMessage, senders_pb2.SendTestRequest(
        user_id=user_id, credential_id=stored.credential_id, recipient="9123 4567"))
    with pytest.raises(ServiceError) as unsubscribed:
        client.call(senders.SendTestMessage, senders_pb2.SendTestRequest(
            user_id=user_id, credential_id=stored.credential_id, recipient="+6581234567"))
    with pytest.raises(ServiceError) as invalid:
        client.call(senders.SendTestMessage, senders_pb2.SendTestRequest(
            user_id=user_id, credential_id=stored.credential_id, recipient="12"))

    assert "+6591234567" in result.message
    assert [(c.params["chat_id"], c.token) for c in telegram.sent] == [(5550001, token)]
    assert unsubscribed.value.code == "invalid_recipient"
    assert "recipient has not subscribed to the bot" in unsubscribed.value.message
    assert invalid.value.code == "invalid_recipient"


def test_send_test_message_with_a_blocked_chat_says_what_telegram_said(senders, subscribers, user_id, token):
    stored = add_bot(senders, user_id, token)
    subscribers.subscribe(int(token.split(":")[0]), 7000065910000007, 7000065910000007, "+6591000000")

    with pytest.raises(ServiceError) as refused:
        client.call(senders.SendTestMessage, senders_pb2.SendTestRequest(
            user_id=user_id, credential_id=stored.credential_id, recipient="+6591000000"))

    assert refused.value.code == "invalid_recipient"
    assert BLOCKED in refused.value.message


def test_send_test_message_with_another_users_or_a_missing_credential_is_not_found(senders, user_id, token):
    stored = add_bot(senders, user_id, token)
    for user, credential in ((user_id + 1, stored.credential_id), (user_id, 2**62)):
        with pytest.raises(ServiceError) as refused:
            client.call(senders.SendTestMessage, senders_pb2.SendTestRequest(
                user_id=user, credential_id=credential, recipient="+6591234567"))
        assert refused.value.code == "not_found"

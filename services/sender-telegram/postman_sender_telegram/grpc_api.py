"""TelegramSenderService: registering a user's bot, and a test message through a stored one.

AddBot is the only place a bot token arrives in plaintext. It is checked with Telegram (getMe), sealed here, handed
to campaign sealed (StoreSealedCredential), and only then is the webhook pointed at the gateway, because its URL
and secret token name the stored credential's id. If Telegram refuses the webhook, the credential is deleted again:
nothing is left half-registered. The token appears in no log line, error message or reply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from postman.v1 import campaign_pb2, campaign_pb2_grpc, senders_pb2
from postman_sender_telegram.delivery import NOT_SUBSCRIBED, BotSchedule
from postman_sender_telegram.provider_credentials import (
    CHANNEL,
    CredentialUnusable,
    TelegramBots,
    bot_id_of,
    plaintext_of,
)
from postman_sender_telegram.subscribers import SubscriberStore
from postman_shared.credentials import Sealer, credential_aad
from postman_shared.grpc import client
from postman_shared.grpc.errors import ErrorCode, NotFound, ServiceError
from postman_shared.logging import get_logger
from postman_shared.outcomes import MessageStatus
from postman_shared.settings import Settings
from postman_shared.simulation import simulated_outcome
from postman_shared.telegram_bot import BotApi, BotApiError
from postman_shared.validators import normalise_phone
from postman_shared.webhooks import telegram_webhook_path, telegram_webhook_secret

log = get_logger(component="grpc_api")

CAMPAIGN_TIMEOUT_SECONDS = 15.0
TEST_MESSAGE = ("This is a test message from Postman. Your bot is ready to deliver campaign messages to the people "
                "who share their phone number with it.")


class TelegramSenderServicer:
    def __init__(self, settings: Settings, bots: TelegramBots, subscribers: SubscriberStore,
                 sealer: Callable[[], Sealer], schedule: BotSchedule) -> None:
        self._settings = settings
        self._bots = bots
        self._subscribers = subscribers
        self._sealer = sealer
        self._schedule = schedule  # a test message takes a slot of the bot's schedule, like a campaign's

    def _campaign(self) -> campaign_pb2_grpc.CampaignServiceStub:
        return client.stub(self._settings.campaign_addr, campaign_pb2_grpc.CampaignServiceStub)

    def AddBot(self, request: senders_pb2.AddBotRequest, context: Any) -> senders_pb2.StoredCredential:
        token = request.bot_token.strip()
        if bot_id_of(token) is None:
            raise ServiceError(ErrorCode.INVALID_CREDENTIALS,
                               "That is not a bot token: BotFather gives one like 123456789:AAH... (the bot's "
                               "number, a colon, then 35 letters, digits, - or _)")
        if request.simulated:
            return self._add_simulated_bot(request, token)
        with BotApi(token, self._settings.telegram_api_base) as api:
            username = _bot_username(api)
            sealer = self._sealer()
            stored = client.call(self._campaign().StoreSealedCredential, campaign_pb2.StoreSealedCredentialRequest(
                user_id=request.user_id, channel=CHANNEL, label=request.label,
                sealed=sealer.seal(plaintext_of(token), credential_aad(request.user_id, CHANNEL)),
                key_id=sealer.key_id, description=f"@{username}", campaign_id=request.campaign_id,
            ), timeout=CAMPAIGN_TIMEOUT_SECONDS)
            url = self._settings.public_url + telegram_webhook_path(stored.id)
            try:
                api.set_webhook(url, telegram_webhook_secret(self._settings.callback_signing_key, stored.id),
                                allowed_updates=["message"])
            except BotApiError as exc:
                log.warning("bot not registered: setWebhook failed", user_id=request.user_id, credential_id=stored.id,
                            error_code=exc.error_code, description=exc.description)
                self._forget(request.user_id, stored.id)
                raise _webhook_error(exc, url) from None
        log.info("bot registered", user_id=request.user_id, credential_id=stored.id, bot=f"@{username}",
                 campaign_id=request.campaign_id or None)
        return senders_pb2.StoredCredential(credential_id=stored.id, label=stored.label,
                                            description=stored.description)

    def _add_simulated_bot(self, request: senders_pb2.AddBotRequest, token: str) -> senders_pb2.StoredCredential:
        """A test API key's bot: the token's form is checked and it is stored sealed, but Telegram is never called
        (no getMe, no webhook): its messages are simulated."""
        sealer = self._sealer()
        stored = client.call(self._campaign().StoreSealedCredential, campaign_pb2.StoreSealedCredentialRequest(
            user_id=request.user_id, channel=CHANNEL, label=request.label,
            sealed=sealer.seal(plaintext_of(token), credential_aad(request.user_id, CHANNEL)),
            key_id=sealer.key_id, description="simulated bot (test key)", campaign_id=request.campaign_id,
        ), timeout=CAMPAIGN_TIMEOUT_SECONDS)
        log.info("simulated bot stored", user_id=request.user_id, credential_id=stored.id)
        return senders_pb2.StoredCredential(credential_id=stored.id, label=stored.label,
                                            description=stored.description)

    def _forget(self, user_id: int, credential_id: int) -> None:
        """Deletes a credential just stored for a bot that could not be registered."""
        try:
            client.call(self._campaign().DeleteCredential,
                        campaign_pb2.DeleteCredentialRequest(user_id=user_id, credential_id=credential_id),
                        timeout=CAMPAIGN_TIMEOUT_SECONDS)
        except ServiceError as exc:
            # Its webhook was never set, so it receives nothing; the user sees it in their list and may delete it.
            log.error("could not delete the credential of a bot that was not registered", user_id=user_id,
                      credential_id=credential_id, error=exc.message)

    def SendTestMessage(self, request: senders_pb2.SendTestRequest, context: Any) -> senders_pb2.TestResult:
        try:
            bot = self._bots.for_message(request.credential_id, request.user_id)
        except CredentialUnusable:
            raise NotFound("Telegram bot credential") from None
        number = normalise_phone(request.recipient, self._settings.default_phone_region)
        if number is None:
            raise ServiceError(ErrorCode.INVALID_RECIPIENT, f"{request.recipient[:40]!r} is not a valid phone number")
        if request.simulated:  # a test API key: no subscriber needed, Telegram never called
            outcome = simulated_outcome("credential-test", number)
            if outcome.status != MessageStatus.SENT:
                raise ServiceError(ErrorCode.INVALID_RECIPIENT, f"{outcome.reason} ({outcome.error_code})")
            return senders_pb2.TestResult(message=f"Test message to {number} simulated (test key)")
        chat_id = self._subscribers.chat(bot.bot_id, number)
        if chat_id is None:
            raise ServiceError(ErrorCode.INVALID_RECIPIENT,
                               f"{NOT_SUBSCRIBED}: ask the owner of {number} to open the bot in Telegram, send /start "
                               "and share their phone number")
        self._schedule.wait_turn(bot.bot_id, self._schedule.max_rate)
        try:
            bot.api().send_message(chat_id, TEST_MESSAGE, parse_mode=None)
        except BotApiError as exc:
            if exc.transient:
                raise ServiceError(ErrorCode.SERVICE_UNAVAILABLE,
                                   "Telegram could not take the test message now; try again in a minute") from None
            raise ServiceError(ErrorCode.INVALID_RECIPIENT,
                               f"Telegram refused the test message to {number}: {exc.description}") from None
        log.info("test message sent", user_id=request.user_id, credential_id=request.credential_id)
        return senders_pb2.TestResult(message=f"Test message sent to {number}")


def _bot_username(api: BotApi) -> str:
    try:
        me = api.get_me()
    except BotApiError as exc:
        if exc.error_code in (401, 404):
            raise ServiceError(ErrorCode.INVALID_CREDENTIALS,
                               "Telegram refused the bot token: check that it is the whole token BotFather gave, and "
                               "that it was not revoked") from None
        if exc.transient:
            raise ServiceError(ErrorCode.SERVICE_UNAVAILABLE,
                               "Telegram could not be reached to check the bot token; try again in a minute") from None
        raise ServiceError(ErrorCode.INVALID_CREDENTIALS,
                           f"Telegram refused the bot token: {exc.description}") from None
    username = me.get("username") if isinstance(me, dict) else None
    if not isinstance(username, str) or not username:
        raise ServiceError(ErrorCode.INVALID_CREDENTIALS,
                           "Telegram says this token is not a bot's (it has no username)")
    return username


def _webhook_error(exc: BotApiError, url: str) -> ServiceError:
    if exc.transient:
        return ServiceError(ErrorCode.SERVICE_UNAVAILABLE,
                            "Telegram could not be reached to set the bot's webhook; nothing was saved, try again in "
                            "a minute")
    return ServiceError(ErrorCode.SERVICE_UNAVAILABLE,
                        f"Telegram did not accept the webhook {url} ({exc.description}); nothing was saved. "
                        "PUBLIC_URL must be reachable by Telegram over HTTPS: tell the operator of this Postman")

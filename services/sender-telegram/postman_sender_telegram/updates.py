"""The ``telegram.updates`` entrypoint: one webhook update at a time, the bot's answer sent back at once.

The gateway has checked the update's secret token, so the credential in the message is the bot it came to. Its
token is opened here (cached like the campaign sends), the conversation runs (storing a shared number), and the
reply goes out with sendMessage in a slot of the bot's schedule, the same one campaign messages use, so replies and
campaigns together stay within Telegram's limit per bot.

An update for a credential that no longer exists (or cannot be opened) is logged and dropped: nobody can answer it.
A passing Bot API failure raises, so the batch is delivered again (storing is an upsert: the second pass changes
nothing); a refused reply (the person blocked the bot meanwhile) is logged and dropped. A message that is not a
TelegramUpdate at all is dead-lettered.
"""

from __future__ import annotations

from collections.abc import Callable

from postman_sender_telegram import conversation
from postman_sender_telegram.delivery import BotSchedule
from postman_sender_telegram.metrics import UPDATES
from postman_sender_telegram.provider_credentials import CredentialUnusable, TelegramBots
from postman_shared.broker import Delivery
from postman_shared.broker.batches import decode_each
from postman_shared.logging import get_logger
from postman_shared.messages import TelegramUpdate
from postman_shared.telegram_bot import BotApiError

log = get_logger(component="updates")

MAX_THROTTLES = 3


class UpdateHandler:
    def __init__(self, bots: TelegramBots, subscribers: conversation.Subscribers, schedule: BotSchedule,
                 region: str) -> None:
        self._bots = bots
        self._subscribers = subscribers
        self._schedule = schedule
        self._region = region

    def __call__(self, batch: list[Delivery]) -> list[Delivery]:
        # A problem logged names a field, never the update's content (a person's message).
        decoded, malformed = decode_each(batch, TelegramUpdate.from_dict, "telegram update", batches=False)
        for _, update in decoded:
            self.handle(update)
        return malformed

    def handle(self, update: TelegramUpdate) -> conversation.Reply | None:
        """Answers one update; the reply sent, if any. Raises when it should be tried again."""
        update_id = update.update.get("update_id")
        try:
            bot = self._bots.of_credential(update.credential_id)
        except CredentialUnusable as unusable:
            UPDATES.labels("dropped").inc()
            log.warning("telegram update dropped", credential_id=update.credential_id, update_id=update_id,
                        reason=unusable.reason)
            return None
        reply = conversation.respond(update.update, bot.bot_id, self._subscribers, self._region)
        if reply is None:
            UPDATES.labels("ignored").inc()
            return None
        self._send(bot.bot_id, lambda: bot.api().send_message(reply.chat_id, reply.text, parse_mode=None,
                                                              reply_markup=reply.reply_markup),
                   credential_id=update.credential_id, update_id=update_id)
        UPDATES.labels(reply.kind).inc()
        log.info("telegram update answered", credential_id=update.credential_id, update_id=update_id,
                 kind=reply.kind)
        return reply

    def _send(self, bot_id: int, call: Callable[[], object], **ids: object) -> None:
        rate = self._schedule.max_rate
        for _ in range(MAX_THROTTLES + 1):
            self._schedule.wait_turn(bot_id, rate)
            try:
                call()
                return
            except BotApiError as exc:
                if exc.error_code == 429:
                    self._schedule.hold(bot_id, exc.retry_after or 1)
                    continue
                if exc.transient:
                    raise
                log.warning("telegram refused the reply", error_code=exc.error_code, description=exc.description,
                            **ids)
                return
        raise RuntimeError(f"Telegram throttled the reply {MAX_THROTTLES + 1} times")

"""Delivering a batch of rendered Telegram messages: the shared skeleton (``postman_shared.sender_pipeline``:
dedupe, screening, record, then announce) with the Bot API as its provider.

The bot of every message is made ready (a failure to reach campaign raises before anything is sent, so the whole
batch is requeued untouched) and one query per bot finds the chat of each phone number. A number that never shared
itself with the bot is an ERROR "recipient has not subscribed to the bot" without any call; one whose subscriber
blocked the bot is UNSUBSCRIBED ``telegram_blocked``, also without a call. The others go to sendMessage a few at a
time (``parse_mode`` HTML, the body cut down to Telegram's tags), each call (retries too) in its slot of the bot's
schedule (``BotSchedule``), then checked against a stop of its job (withheld if it was stopped while it waited). A
message that could not be sent because the service is stopping, or that Telegram kept throttling, is published again
to ``telegram.send`` (same id). Telegram's 403 (the person blocked the bot) makes the message UNSUBSCRIBED and marks
the subscriber blocked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, wait

from postman_sender_telegram.metrics import MESSAGES, PROVIDER_RETRIES
from postman_sender_telegram.models import TelegramDelivery
from postman_sender_telegram.provider_credentials import Bot, CredentialUnusable, TelegramBots
from postman_sender_telegram.subscribers import SubscriberStore
from postman_shared.broker import Publisher
from postman_shared.broker.topology import TELEGRAM_SEND
from postman_shared.db import Database
from postman_shared.delivery_log import DeliveryLog, Outcome
from postman_shared.messages import RenderedTelegram
from postman_shared.outcomes import MessageStatus
from postman_shared.screening import BatchScreen, Withheld
from postman_shared.send_rate import SendRate, SendRateStopped
from postman_shared.sender_pipeline import BatchReport, ProviderAdapter, deliver_batch
from postman_shared.simulation import simulated_outcome
from postman_shared.telegram_bot import BotApiError, telegram_html

DELIVERIES = DeliveryLog(TelegramDelivery, provider_id_length=64)
NOT_SUBSCRIBED = "recipient has not subscribed to the bot"  # shown as is in stats and exports
BLOCKED = "telegram_blocked"  # the person blocked the bot: UNSUBSCRIBED
UNAVAILABLE = "telegram_unavailable"
NO_ANSWER = "telegram_no_answer"
# Pauses before the second and third try of a call that failed for a passing reason (5xx, no connection).
RETRY_PAUSES: tuple[float, ...] = (0.5, 2.0)
# 429s of one message honoured in a row; after that it goes back on the queue, never recorded as failed.
MAX_THROTTLES = 5


class PutBack(Exception):
    """The message was not sent and is not failed: it is published to ``telegram.send`` again."""


class BotSchedule:
    """The pace of each bot's sendMessage calls, at most ``max_rate`` per second (Telegram's limit per bot) and the
    rate a campaign asked for below that; shared by every replica using the same store (``REDIS_URL``). A 429 holds
    the bot's schedule for Telegram's ``retry_after``, so every replica's next calls of that bot wait too."""

    def __init__(self, send_rate: SendRate, max_rate: int, stop: threading.Event | None = None) -> None:
        self._send_rate = send_rate
        self.max_rate = max_rate
        self._stop = stop or threading.Event()

    @staticmethod
    def subject(bot_id: int) -> str:
        return f"telegram:bot:{bot_id}"

    def rate(self, requested: int | None) -> int:
        return min(requested or self.max_rate, self.max_rate)

    def wait_turn(self, bot_id: int, rate: int) -> None:
        """Returns at this call's slot; SendRateStopped when the service stops first."""
        self._send_rate.acquire(self.subject(bot_id), rate, self._stop)

    def hold(self, bot_id: int, seconds: float) -> None:
        self._send_rate.hold(self.subject(bot_id), seconds)

    def pause(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise SendRateStopped("stopping")


def blocked_outcome(message_id: str, how: str) -> Outcome:
    return Outcome.suppressed(message_id, MessageStatus.UNSUBSCRIBED, BLOCKED,
                              f"Not sent: the recipient blocked the bot ({how})")


def send_one(bot: Bot, chat_id: int, message: RenderedTelegram, schedule: BotSchedule,
             retry_pauses: Sequence[float] = RETRY_PAUSES, max_throttles: int = MAX_THROTTLES,
             check: Callable[[RenderedTelegram], object] = lambda message: None) -> Outcome:
    """Telegram's outcome of one message. A 429 is waited out (the bot's whole schedule held) and the same message
    tried again; a 5xx or no connection is tried again after a pause, then ERROR ``telegram_unavailable``; a 403 (the
    person blocked the bot) is UNSUBSCRIBED; any other refusal (chat not found) is one ERROR with Telegram's
    description as its code. ``check`` runs after each wait for a slot (a stopped job raises Withheld). Raises
    SendRateStopped or PutBack when the message was not sent and must go back on the queue."""
    rate = schedule.rate(message.rate)
    text = telegram_html(message.body)
    failures = throttles = 0
    while True:
        schedule.wait_turn(bot.bot_id, rate)
        check(message)
        try:
            sent = bot.api().send_message(chat_id, text, parse_mode="HTML")
        except BotApiError as exc:
            if exc.error_code == 429:
                throttles += 1
                if throttles > max_throttles:
                    raise PutBack(f"throttled {throttles} times in a row") from None
                PROVIDER_RETRIES.labels("throttled").inc()
                schedule.hold(bot.bot_id, exc.retry_after or 1)
                continue
            if exc.no_answer:
                # The request went out and may have been carried out: sending it again could deliver it twice.
                return Outcome.error(message.message_id, NO_ANSWER, "Telegram did not answer in time; the message "
                                                                    "may or may not have been sent")
            if exc.transient:
                failures += 1
                if failures > len(retry_pauses):
                    return Outcome.error(message.message_id, UNAVAILABLE, f"Telegram did not take the message "
                                                                          f"after {failures} tries: {exc}")
                PROVIDER_RETRIES.labels("unavailable").inc()
                schedule.pause(retry_pauses[failures - 1])
                continue
            if exc.error_code == 403:
                return blocked_outcome(message.message_id, exc.description)
            return Outcome.error(message.message_id, exc.description,
                                 f"Telegram refused the message ({exc.error_code}): {exc.description}")
        provider_id = sent.get("message_id") if isinstance(sent, dict) else None
        return Outcome.sent(message.message_id, None if provider_id is None else str(provider_id))


class BotApiDelivery(ProviderAdapter[RenderedTelegram]):
    """The Bot API as a batch's provider. ``keepalive`` is called about once a second while messages are with
    Telegram (the broker's heartbeats)."""

    channel = "telegram"
    deliveries = DELIVERIES
    send_queue = TELEGRAM_SEND
    messages_metric = MESSAGES

    def __init__(self, bots: TelegramBots, subscribers: SubscriberStore, pool: Executor, schedule: BotSchedule,
                 keepalive: Callable[[], object] = lambda: None) -> None:
        self.bots = bots
        self.subscribers = subscribers
        self.pool = pool
        self.schedule = schedule
        self.keepalive = keepalive

    def send(self, due: Sequence[RenderedTelegram], screen: BatchScreen | None) -> dict[str, Outcome]:
        return send(due, self.bots, self.subscribers, self.pool, self.schedule, self.keepalive,
                    screen.check if screen is not None else lambda message: None)


def deliver(messages: Sequence[RenderedTelegram], database: Database, bots: TelegramBots,
            subscribers: SubscriberStore, publisher: Publisher, pool: Executor, schedule: BotSchedule,
            keepalive: Callable[[], object] = lambda: None, screen: BatchScreen | None = None,
            wait: Callable[[float], bool] | None = None) -> BatchReport:
    """Sends what was not sent before, records it, then announces every outcome of the batch.

    Without ``screen`` nothing is screened (tests of the Telegram side alone). The record of what Telegram accepted
    is tried again while the database is unreachable (``wait``: the consumer's pause), since failing would resend
    them."""
    provider = BotApiDelivery(bots, subscribers, pool, schedule, keepalive)
    return BatchReport.of(deliver_batch(messages, provider, database, publisher, screen, wait))


def send(messages: Sequence[RenderedTelegram], bots: TelegramBots, subscribers: SubscriberStore, pool: Executor,
         schedule: BotSchedule, keepalive: Callable[[], object] = lambda: None,
         check: Callable[[RenderedTelegram], object] = lambda message: None) -> dict[str, Outcome]:
    """The outcome of each message, keyed by message id; a message put back has none. ``check`` runs right before
    each call (a stopped job raises Withheld)."""
    outcomes: dict[str, Outcome] = {}
    by_bot: dict[int, tuple[Bot, list[RenderedTelegram]]] = {}
    simulated = [m for m in messages if m.simulated]
    for message in messages:
        if message.simulated:
            continue
        try:
            bot = bots.for_message(message.credential_id, message.user_id)
        except CredentialUnusable as unusable:
            outcomes[message.message_id] = Outcome.error(message.message_id, unusable.code, unusable.reason)
            continue
        by_bot.setdefault(bot.credential_id, (bot, []))[1].append(message)

    ready: list[tuple[Bot, int, RenderedTelegram]] = []
    for bot, bot_messages in by_bot.values():
        chats, blocked = subscribers.reachable(bot.bot_id, [m.to for m in bot_messages])
        for message in bot_messages:
            chat_id = chats.get(message.to)
            if message.to in blocked:
                outcomes[message.message_id] = blocked_outcome(message.message_id, "found blocked before")
            elif chat_id is None:
                outcomes[message.message_id] = Outcome.error(
                    message.message_id, NOT_SUBSCRIBED,
                    f"{message.to} has not shared this phone number with the bot (/start in Telegram)")
            else:
                ready.append((bot, chat_id, message))

    futures = {pool.submit(send_one, bot, chat_id, message, schedule, check=check): (bot, chat_id, message)
               for bot, chat_id, message in ready}
    # A test key's message: paced like any other, then a simulated outcome; Telegram is never called.
    simulating = {pool.submit(_simulate, message, schedule): message for message in simulated}
    pending = set(futures) | set(simulating)
    while pending:
        done, pending = wait(pending, timeout=1.0)
        for future in done:
            message = futures[future][2] if future in futures else simulating[future]
            try:
                outcome = future.result()
            except (SendRateStopped, PutBack):
                continue  # not sent: deliver puts it back on the queue
            except Withheld:
                outcome = Outcome.withheld(message.message_id)  # its job was stopped while it waited
            outcomes[outcome.message_id] = outcome
            if outcome.error_code == BLOCKED and future in futures:
                bot, chat_id, _ = futures[future]
                subscribers.set_blocked(bot.bot_id, chat_id=chat_id)
        keepalive()
    return outcomes


def _simulate(message: RenderedTelegram, schedule: BotSchedule) -> Outcome:
    # The bot of a test key's credential is never opened, so its schedule is keyed by the credential (negative, so
    # it never shares a real bot id's schedule).
    schedule.wait_turn(-message.credential_id, schedule.rate(message.rate))
    return simulated_outcome(message.message_id, message.to)

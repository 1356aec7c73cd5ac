"""Composition root of the sender-telegram service: the consumers of ``telegram.send`` (campaign messages) and
``telegram.updates`` (what people say to the bots), and the TelegramSenderService API (AddBot, SendTestMessage).

Campaign messages go to Telegram a few at a time (``SEND_CONCURRENCY`` calls in flight), each through the bot of the
credential it names, opened here and kept for a few minutes (``provider_credentials.TelegramBots``), and each call in
its slot of the bot's schedule (at most ``TELEGRAM_MAX_RATE`` per second), shared by every replica through Redis when
``REDIS_URL`` is set. Replies to subscribers take slots of the same schedule.
"""

from __future__ import annotations

from collections.abc import Sequence

from postman.v1 import senders_pb2_grpc
from postman_sender_telegram import consumer, delivery
from postman_sender_telegram.grpc_api import TelegramSenderServicer
from postman_sender_telegram.provider_credentials import CampaignCredentials, TelegramBots
from postman_sender_telegram.subscribers import SubscriberStore
from postman_sender_telegram.updates import UpdateHandler
from postman_shared.broker import BatchConsumer
from postman_shared.broker.batches import rendered_prefetch
from postman_shared.broker.topology import TELEGRAM_SEND, TELEGRAM_UPDATES
from postman_shared.credentials import sealer_from_settings
from postman_shared.job_stops import JobStops, campaign_fetch
from postman_shared.messages import RenderedTelegram
from postman_shared.runtime import ServiceRuntime
from postman_shared.screening import BatchScreen
from postman_shared.send_rate import send_rate_from_url
from postman_shared.settings import Settings
from postman_shared.suppression_client import SuppressionClient

# Telegram takes one message per call; this many calls are in flight at once (30/s at up to ~300 ms a call).
SEND_CONCURRENCY = 10
# Updates are answered one by one; a small batch keeps a redelivered batch (after a Telegram outage) short.
UPDATES_BATCH_SIZE = 10


def build(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime("sender-telegram", settings)
    bots = TelegramBots(CampaignCredentials(settings.campaign_addr), lambda: sealer_from_settings(settings),
                        settings.telegram_api_base)
    subscribers = SubscriberStore(runtime.database)
    # A wait for a slot ends when the service stops; that message is put back on the queue unsent.
    schedule = delivery.BotSchedule(send_rate_from_url(settings.redis_url), settings.telegram_max_rate,
                                    runtime.stopping)
    # Threads are created on the first send, not here.
    pool = runtime.thread_pool(SEND_CONCURRENCY, "telegram-send")

    screen = BatchScreen("TELEGRAM", JobStops(campaign_fetch(settings.campaign_addr)),
                         SuppressionClient(settings.campaign_addr))

    def deliver(messages: Sequence[RenderedTelegram]) -> delivery.BatchReport:
        return delivery.deliver(messages, runtime.database, bots, subscribers, runtime.publisher, pool, schedule,
                                keepalive=telegram_send.keepalive, screen=screen, wait=telegram_send.pause)

    telegram_send = BatchConsumer(
        settings.amqp_url, TELEGRAM_SEND, consumer.handler(deliver, settings.sender_batch_size),
        # Batches and the prefetch in messages: a rendered batch is one delivery of up to RENDERED_PER_MESSAGE.
        batch_size=settings.sender_batch_size,
        prefetch=rendered_prefetch(settings.sender_prefetch, settings.rendered_per_message),
        count_messages=True,
    )
    runtime.add_consumer(telegram_send)
    runtime.add_consumer(BatchConsumer(
        settings.amqp_url, TELEGRAM_UPDATES,
        UpdateHandler(bots, subscribers, schedule, settings.default_phone_region),
        batch_size=UPDATES_BATCH_SIZE, prefetch=2 * UPDATES_BATCH_SIZE,
    ))
    runtime.serve_grpc(
        settings.telegram_sender_addr,
        [(senders_pb2_grpc.add_TelegramSenderServiceServicer_to_server,
          TelegramSenderServicer(settings, bots, subscribers, lambda: sealer_from_settings(settings), schedule))],
        ["postman.v1.TelegramSenderService"],
    )
    return runtime

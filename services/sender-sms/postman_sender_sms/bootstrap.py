"""Composition root of the sender-sms service: one consumer of ``sms.send``, no gRPC server.

Messages go to Twilio a few at a time (``SEND_CONCURRENCY`` requests in flight), each through the Twilio account of
the credential it names, opened here and kept for a few minutes (``credentials.TwilioSenders``), and each request
in its slot of the campaign's send rate, a schedule shared by every replica through Redis when ``REDIS_URL`` is set.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from postman_sender_sms import consumer, delivery
from postman_sender_sms.credentials import CampaignCredentials, TwilioSenders
from postman_shared.broker import BatchConsumer
from postman_shared.broker.topology import SMS_SEND
from postman_shared.credentials import sealer_from_settings
from postman_shared.messages import RenderedSms
from postman_shared.runtime import ServiceRuntime
from postman_shared.send_rate import send_rate_from_url
from postman_shared.settings import Settings

# Twilio takes one message per request; this many requests are in flight at once.
SEND_CONCURRENCY = 8


def build(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime("sender-sms", settings)
    # The library logs every request and response at INFO; ours are the batch lines, with ids bound.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    senders = TwilioSenders(CampaignCredentials(settings.campaign_addr), lambda: sealer_from_settings(settings),
                            settings.twilio_api_base)
    # Threads are created on the first send, not here.
    pool = ThreadPoolExecutor(max_workers=SEND_CONCURRENCY, thread_name_prefix="sms-send")
    # A wait for a slot ends when the service stops; that message is put back on the queue unsent.
    pace = delivery.campaign_pace(send_rate_from_url(settings.redis_url), settings.sms_default_rate, runtime.stopping)

    def deliver(messages: Sequence[RenderedSms]) -> delivery.BatchReport:
        return delivery.deliver(messages, runtime.database, senders, runtime.publisher, pool,
                                keepalive=sms_send.keepalive, pace=pace)

    sms_send = BatchConsumer(
        settings.amqp_url, SMS_SEND, consumer.handler(deliver),
        batch_size=settings.sender_batch_size, prefetch=settings.sender_prefetch,
        delivery_limit=settings.queue_delivery_limit,
    )
    runtime.add_consumer(sms_send)
    return runtime

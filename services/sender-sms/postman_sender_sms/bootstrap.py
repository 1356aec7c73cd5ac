"""Composition root of the sender-sms service: the consumer of ``sms.send`` and the SmsSenderService gRPC server
(checking and adding Twilio credentials with a test SMS).

Messages go to Twilio a few at a time (``SEND_CONCURRENCY`` requests in flight), each through the Twilio account of
the credential it names, opened here and kept for a few minutes (``provider_credentials.TwilioSenders``), and each
request in its slot of the campaign's send rate, a schedule shared by every replica through Redis when ``REDIS_URL``
is set.
Each message asks Twilio to report its delivery to the gateway (a signed ``PUBLIC_URL`` path); the gateway queues
those reports on ``sms.status``, whose consumer here turns the final ones into receipts for stats (``receipts``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial

from postman.v1 import senders_pb2_grpc
from postman_sender_sms import consumer, delivery, receipts, transactional, webhook_events
from postman_sender_sms.grpc_api import SmsSenderServicer
from postman_sender_sms.provider_credentials import CampaignCredentials, TwilioSenders
from postman_sender_sms.transactional_api import TransactionalSmsServicer
from postman_shared.broker import BatchConsumer
from postman_shared.broker.batches import rendered_prefetch
from postman_shared.broker.topology import SMS_SEND, SMS_STATUS
from postman_shared.credentials import sealer_from_settings
from postman_shared.job_stops import JobStops, campaign_fetch
from postman_shared.messages import RenderedSms
from postman_shared.outbox import OutboxRelay
from postman_shared.runtime import ServiceRuntime
from postman_shared.screening import BatchScreen
from postman_shared.send_rate import send_rate_from_url
from postman_shared.settings import Settings
from postman_shared.suppression_client import SuppressionClient

# Twilio takes one message per request; this many requests are in flight at once.
SEND_CONCURRENCY = 8


WEBHOOK_RELAY_SECONDS = 0.5  # how soon a transactional status event leaves for the user's webhook


def build(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime("sender-sms", settings)
    # The library logs every request and response at INFO; ours are the batch lines, with ids bound.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    senders = TwilioSenders(CampaignCredentials(settings.campaign_addr), lambda: sealer_from_settings(settings),
                            settings.twilio_api_base)
    servicer = SmsSenderServicer(senders, lambda: sealer_from_settings(settings), settings.campaign_addr,
                                 settings.twilio_api_base, settings.default_phone_region)
    transactional_sms = TransactionalSmsServicer(
        runtime.database, senders, settings.default_phone_region,
        transactional.status_callback_url(settings.public_url, settings.callback_signing_key))
    runtime.serve_grpc(settings.sms_sender_addr,
                       [(senders_pb2_grpc.add_SmsSenderServiceServicer_to_server, servicer),
                        (senders_pb2_grpc.add_TransactionalSmsServiceServicer_to_server, transactional_sms)],
                       ["postman.v1.SmsSenderService", "postman.v1.TransactionalSmsService"])
    # Threads are created on the first send, not here.
    pool = runtime.thread_pool(SEND_CONCURRENCY, "sms-send")
    # A wait for a slot ends when the service stops; that message is put back on the queue unsent.
    pace = delivery.campaign_pace(send_rate_from_url(settings.redis_url), settings.sms_default_rate, runtime.stopping)
    # Twilio reports each message's delivery to the gateway, which queues the report on sms.status.
    callback_url = delivery.status_callback_url(settings.public_url, settings.callback_signing_key)
    # Stopped jobs and suppressed numbers (STOP replies, support's entries) are never handed to Twilio.
    screen = BatchScreen("SMS", JobStops(campaign_fetch(settings.campaign_addr)),
                         SuppressionClient(settings.campaign_addr))

    def deliver(messages: Sequence[RenderedSms]) -> delivery.BatchReport:
        return delivery.deliver(messages, runtime.database, senders, runtime.publisher, pool,
                                keepalive=sms_send.keepalive, pace=pace, callback_url=callback_url, screen=screen,
                                wait=sms_send.pause)

    sms_send = BatchConsumer(
        settings.amqp_url, SMS_SEND, consumer.handler(deliver, settings.sender_batch_size),
        # Batches and the prefetch in messages: a rendered batch is one delivery of up to RENDERED_PER_MESSAGE.
        batch_size=settings.sender_batch_size,
        prefetch=rendered_prefetch(settings.sender_prefetch, settings.rendered_per_message),
        count_messages=True,
    )
    runtime.add_consumer(sms_send)
    runtime.add_consumer(BatchConsumer(
        settings.amqp_url, SMS_STATUS,
        receipts.ReceiptHandler(senders, runtime.database, lambda events: runtime.publisher.publish(events)),
        batch_size=settings.sender_batch_size, prefetch=settings.sender_prefetch,
    ))
    # Transactional status events for the users' webhooks, written with each status change (webhook_events).
    runtime.add_loop(partial(OutboxRelay(runtime.database, webhook_events.outbox, runtime.publisher).run_periodically,
                             interval=WEBHOOK_RELAY_SECONDS))
    return runtime

"""Composition root of the stats service: the StatsService API, the delivery.events consumer, the sweeps of
finished jobs and of campaigns to halt; client webhooks (ClientWebhookService, the client.webhooks consumers and
their delivery threads, stats' outbox relay)."""

from __future__ import annotations

from functools import partial

from postman.v1 import client_webhooks_pb2_grpc, stats_pb2_grpc
from postman_shared.broker import BatchConsumer
from postman_shared.broker.topology import CLIENT_WEBHOOKS, DELIVERY_EVENTS
from postman_shared.credentials import sealer_from_settings
from postman_shared.outbox import OutboxRelay
from postman_shared.runtime import ServiceRuntime
from postman_shared.settings import Settings
from postman_stats import finishing, halting, webhook_models
from postman_stats.campaign_client import CampaignClient
from postman_stats.client_webhooks import Deliverer, WebhookConfig, WebhookHandler
from postman_stats.consumer import EventHandler
from postman_stats.grpc_api import StatsServicer
from postman_stats.webhook_api import ClientWebhookServicer

WEBHOOK_CONSUMERS = 2  # each its own broker connection and thread
WEBHOOK_BATCH = 20


def build(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime("stats", settings)
    campaigns = CampaignClient(settings.campaign_addr)
    deliverer = Deliverer(lambda: sealer_from_settings(settings), WebhookConfig.from_settings(settings))
    runtime.serve_grpc(
        settings.stats_addr,
        [(stats_pb2_grpc.add_StatsServiceServicer_to_server, StatsServicer(runtime.database, campaigns)),
         (client_webhooks_pb2_grpc.add_ClientWebhookServiceServicer_to_server,
          ClientWebhookServicer(runtime.database, deliverer))],
        ["postman.v1.StatsService", "postman.v1.ClientWebhookService"],
    )
    thresholds = halting.Thresholds.from_settings(settings)
    runtime.add_consumer(
        BatchConsumer(
            settings.amqp_url, DELIVERY_EVENTS,
            EventHandler(runtime.database, campaigns, thresholds, chunk=settings.stats_batch_size),
            batch_size=settings.stats_batch_size, prefetch=2 * settings.stats_batch_size,
        )
    )
    relay = OutboxRelay(runtime.database, webhook_models.outbox, runtime.publisher)
    pool = runtime.thread_pool(settings.webhook_delivery_threads, "webhook")
    runtime.on_stop(lambda: pool.shutdown(wait=False, cancel_futures=True))
    webhooks = WebhookHandler(runtime.database, runtime.publisher, deliverer, pool, relay)  # one: shared limits
    for _ in range(WEBHOOK_CONSUMERS):
        runtime.add_consumer(BatchConsumer(settings.amqp_url, CLIENT_WEBHOOKS, webhooks,
                                           batch_size=WEBHOOK_BATCH, prefetch=2 * WEBHOOK_BATCH))
    runtime.add_loop(relay.run_periodically)
    runtime.add_loop(partial(finishing.sweep_periodically, runtime.database, campaigns))
    runtime.add_loop(partial(halting.sweep_periodically, runtime.database, campaigns, thresholds))
    return runtime

"""Composition root of the stats service: the StatsService API, the delivery.events consumer, the sweeps of
finished jobs and of campaigns to halt."""

from __future__ import annotations

from functools import partial

from postman.v1 import stats_pb2_grpc
from postman_shared.broker import BatchConsumer
from postman_shared.broker.topology import DELIVERY_EVENTS
from postman_shared.runtime import ServiceRuntime
from postman_shared.settings import Settings
from postman_stats import finishing, halting
from postman_stats.campaign_client import CampaignClient
from postman_stats.consumer import EventHandler
from postman_stats.grpc_api import StatsServicer


def build(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime("stats", settings)
    campaigns = CampaignClient(settings.campaign_addr)
    runtime.serve_grpc(
        settings.stats_addr,
        [(stats_pb2_grpc.add_StatsServiceServicer_to_server, StatsServicer(runtime.database, campaigns))],
        ["postman.v1.StatsService"],
    )
    thresholds = halting.Thresholds.from_settings(settings)
    runtime.add_consumer(
        BatchConsumer(
            settings.amqp_url, DELIVERY_EVENTS,
            EventHandler(runtime.database, campaigns, thresholds, chunk=settings.stats_batch_size),
            batch_size=settings.stats_batch_size, prefetch=2 * settings.stats_batch_size,
        )
    )
    runtime.add_loop(partial(finishing.sweep_periodically, runtime.database, campaigns))
    runtime.add_loop(partial(halting.sweep_periodically, runtime.database, campaigns, thresholds))
    return runtime

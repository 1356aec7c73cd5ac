"""Composition root of the renderer service: the RendererService gRPC server and the campaign.send consumer; auth
is asked for the agency of each email's theme."""

from __future__ import annotations

from postman.v1 import renderer_pb2_grpc
from postman_renderer.agency_client import AgencyClient
from postman_renderer.campaign_client import CampaignClient
from postman_renderer.consumer import QueueWindow, SendJobHandler
from postman_renderer.dispatch import JobRenderer
from postman_renderer.grpc_api import RendererServicer
from postman_renderer.stats_client import StatsClient
from postman_shared.broker.consumer import BatchConsumer
from postman_shared.broker.topology import CAMPAIGN_SEND, CAMPAIGN_SEND_WAIT
from postman_shared.job_stops import JobStops, campaign_fetch
from postman_shared.runtime import ServiceRuntime
from postman_shared.settings import Settings
from postman_shared.unsubscribe_links import UnsubscribeLinks


def build(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime("renderer", settings)
    links = UnsubscribeLinks.from_settings(settings)  # refuses to start without UNSUBSCRIBE_KEYS in production
    looks = AgencyClient(settings.auth_addr, settings.default_agency_name)  # the agency of each email's theme
    runtime.serve_grpc(
        settings.renderer_addr,
        [(renderer_pb2_grpc.add_RendererServiceServicer_to_server, RendererServicer(settings, looks))],
        ["postman.v1.RendererService"],
    )
    renderer = JobRenderer(
        campaigns=CampaignClient(settings.campaign_addr),
        database=runtime.database,
        publisher=runtime.publisher,
        batch_size=settings.render_batch_size,
        per_message=settings.rendered_per_message,  # rendered messages per AMQP message
        default_sender=settings.email_from,
        # The handler runs on the consumer's thread; between batches it lets the consumer answer heartbeats.
        keepalive=lambda: consumer.keepalive(),
        stats=StatsClient(settings.stats_addr),  # retry jobs: errors reset, recipients already done
        stops=JobStops(campaign_fetch(settings.campaign_addr)),  # a stopped job stops at the next batch
        links=links,
        looks=looks,
        # Flow control: a channel's queue holds at most RENDER_WINDOW messages; jobs take turns, a slice each.
        window=QueueWindow(settings.render_window, lambda queue: consumer.queue_depth(queue),
                           settings.rendered_per_message)
        if settings.render_window > 0 else None,
    )
    # One job (or slice of a job) per batch, acked only when rendered and its next slice is back in line.
    handler = SendJobHandler(renderer, runtime.publisher, lambda: consumer.queue_depth(CAMPAIGN_SEND_WAIT))
    consumer = BatchConsumer(
        settings.amqp_url, CAMPAIGN_SEND, handler, batch_size=1, prefetch=4,
    )
    runtime.add_consumer(consumer)
    return runtime

"""Composition root of the campaign service: gRPC APIs (CampaignService and SuppressionService), outbox relay loop,
scheduler loop, weekly unsubscribe digests, upload workers, the expiry of password-protected messages and the
retention purge."""

from __future__ import annotations

from functools import partial

from postman.v1 import campaign_pb2_grpc, suppression_pb2_grpc
from postman_campaign import digests, models
from postman_campaign.grpc_api import CampaignServicer
from postman_campaign.job_metrics import report_jobs_of
from postman_campaign.protected_messages import ExpiryLoop, OpeningRules, ProtectedStorage
from postman_campaign.renderer_client import GrpcRenderer
from postman_campaign.retention import PurgeLoop, Retention
from postman_campaign.scheduling import Scheduler
from postman_campaign.sender_check import SenderCheck
from postman_campaign.suppression_api import SuppressionServicer
from postman_campaign.upload_sweeper import UploadSweeper
from postman_campaign.upload_worker import UploadWorkers
from postman_shared.object_store import object_store_from_settings
from postman_shared.outbox import OutboxRelay
from postman_shared.runtime import ServiceRuntime
from postman_shared.sender_client import AuthVerifiedSenders
from postman_shared.settings import Settings

UPLOAD_WORKER_THREADS = 2


def build(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime("campaign", settings)
    report_jobs_of(runtime.database)  # postman_jobs{channel, status} at every scrape
    store = object_store_from_settings(settings)
    relay = OutboxRelay(runtime.database, models.outbox, runtime.publisher)
    workers = UploadWorkers(runtime.database, store, threads=UPLOAD_WORKER_THREADS,
                            phone_region=settings.default_phone_region,
                            protected=ProtectedStorage(settings.public_url, settings.protected_retention_days))
    # Who an email may be from: the default address or the owner's verified ones, asked of auth (issue 12).
    senders = SenderCheck(settings.email_from, AuthVerifiedSenders(settings.auth_addr))
    servicer = CampaignServicer(
        runtime.database, GrpcRenderer(settings.renderer_addr), store, settings,
        process_upload=workers.submit, publish_outbox=relay.flush,
        opening_rules=OpeningRules.from_settings(settings), senders=senders,
    )
    runtime.serve_grpc(
        settings.campaign_addr,
        [(campaign_pb2_grpc.add_CampaignServiceServicer_to_server, servicer),
         (suppression_pb2_grpc.add_SuppressionServiceServicer_to_server,
          SuppressionServicer(runtime.database, settings))],
        ["postman.v1.CampaignService", "postman.v1.SuppressionService"],
    )
    runtime.add_loop(relay.run_periodically)
    runtime.add_loop(partial(digests.run, runtime.database, settings.public_url, relay.flush))
    # Releases scheduled sends when they are due (a send whose From is no longer allowed becomes a draft again).
    runtime.add_loop(Scheduler(runtime.database, relay.flush, senders=senders, public_url=settings.public_url).run)
    runtime.on_start(workers.requeue_interrupted)  # before serving, so a new upload is never picked up twice
    runtime.add_loop(workers.run)
    runtime.add_loop(ExpiryLoop(runtime.database, settings.protect_lock_minutes).run)  # erases expired messages
    # Uploads started but never completed: deleted after UPLOAD_ABANDON_HOURS (local store: every leftover file).
    runtime.add_loop(UploadSweeper(runtime.database, store, settings.upload_abandon_hours).run)
    # Retention (docs/data-protection.md): redacts finished campaigns, deletes old transactional messages and audit
    # events, PURGE_BATCH_SIZE rows per transaction.
    runtime.add_loop(PurgeLoop(runtime.database, Retention.from_settings(settings),
                               interval=settings.purge_interval_seconds).run)
    return runtime

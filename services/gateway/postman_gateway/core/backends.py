"""The services the gateway calls, as gRPC stubs, and its one publisher (provider callbacks and bot updates go on
queues, not through a service). The gateway never opens the database."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flask import current_app

from postman.v1 import (
    auth_pb2_grpc,
    campaign_pb2_grpc,
    client_webhooks_pb2_grpc,
    renderer_pb2_grpc,
    senders_pb2_grpc,
    stats_pb2_grpc,
    suppression_pb2_grpc,
    transactional_email_pb2_grpc,
)
from postman_shared.broker.publisher import Publisher
from postman_shared.grpc import client
from postman_shared.grpc.identity import load_identity
from postman_shared.settings import Settings

EXTENSION = "postman_gateway.core.backends"


class LazyPublisher:
    """A Publisher opened on the first publish (most gateway requests never publish), shared by every thread."""

    def __init__(self, amqp_url: str) -> None:
        self._amqp_url = amqp_url
        self._publisher: Publisher | None = None
        self._lock = threading.Lock()

    def get(self) -> Publisher:
        with self._lock:
            if self._publisher is None:
                self._publisher = Publisher(self._amqp_url, app_id="gateway")
            return self._publisher

    def close(self) -> None:
        with self._lock:
            if self._publisher is not None:
                self._publisher.close()
                self._publisher = None


@dataclass(frozen=True)
class Backends:
    auth: auth_pb2_grpc.AuthServiceStub
    campaign: campaign_pb2_grpc.CampaignServiceStub
    stats: stats_pb2_grpc.StatsServiceStub
    sms_sender: senders_pb2_grpc.SmsSenderServiceStub
    telegram_sender: senders_pb2_grpc.TelegramSenderServiceStub
    transactional_sms: senders_pb2_grpc.TransactionalSmsServiceStub
    transactional_email: transactional_email_pb2_grpc.TransactionalEmailServiceStub
    publisher: LazyPublisher = field(compare=False)
    # The officers' template editor: a live preview of unsaved text (ValidateTemplate and RenderPreview only).
    renderer: renderer_pb2_grpc.RendererServiceStub | None = None
    # The suppression list and unsubscribes (served by the campaign process).
    suppression: suppression_pb2_grpc.SuppressionServiceStub | None = None
    # The caller's webhooks to their own systems (served by the stats process).
    client_webhooks: client_webhooks_pb2_grpc.ClientWebhookServiceStub | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "Backends":
        """Stubs calling as the gateway: with its certificate (GRPC_TLS_DIR/gateway/), whatever thread uses them."""
        with client.acting_as(load_identity(settings, "gateway")):
            return cls._stubs(settings)

    @classmethod
    def _stubs(cls, settings: Settings) -> "Backends":
        return cls(
            auth=client.stub(settings.auth_addr, auth_pb2_grpc.AuthServiceStub),
            campaign=client.stub(settings.campaign_addr, campaign_pb2_grpc.CampaignServiceStub),
            stats=client.stub(settings.stats_addr, stats_pb2_grpc.StatsServiceStub),
            sms_sender=client.stub(settings.sms_sender_addr, senders_pb2_grpc.SmsSenderServiceStub),
            telegram_sender=client.stub(settings.telegram_sender_addr, senders_pb2_grpc.TelegramSenderServiceStub),
            transactional_sms=client.stub(settings.sms_sender_addr, senders_pb2_grpc.TransactionalSmsServiceStub),
            transactional_email=client.stub(settings.email_sender_addr,
                                            transactional_email_pb2_grpc.TransactionalEmailServiceStub),
            publisher=LazyPublisher(settings.amqp_url),
            renderer=client.stub(settings.renderer_addr, renderer_pb2_grpc.RendererServiceStub),
            suppression=client.stub(settings.campaign_addr, suppression_pb2_grpc.SuppressionServiceStub),
            client_webhooks=client.stub(settings.stats_addr, client_webhooks_pb2_grpc.ClientWebhookServiceStub),
        )


def backends() -> Backends:
    """The stubs of the app handling the current request."""
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]

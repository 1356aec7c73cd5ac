"""The services the gateway calls, as gRPC stubs. The gateway never opens the database."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from postman.v1 import auth_pb2_grpc, campaign_pb2_grpc, stats_pb2_grpc
from postman_shared.grpc import client
from postman_shared.settings import Settings

EXTENSION = "postman_gateway.backends"


@dataclass(frozen=True)
class Backends:
    auth: auth_pb2_grpc.AuthServiceStub
    campaign: campaign_pb2_grpc.CampaignServiceStub
    stats: stats_pb2_grpc.StatsServiceStub

    @classmethod
    def from_settings(cls, settings: Settings) -> "Backends":
        return cls(
            auth=client.stub(settings.auth_addr, auth_pb2_grpc.AuthServiceStub),
            campaign=client.stub(settings.campaign_addr, campaign_pb2_grpc.CampaignServiceStub),
            stats=client.stub(settings.stats_addr, stats_pb2_grpc.StatsServiceStub),
        )


def backends() -> Backends:
    """The stubs of the app handling the current request."""
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]

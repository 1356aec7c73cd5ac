"""StatsService over gRPC: a thin layer over reading and exporting. Ownership is campaign's to check."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from postman.v1 import stats_pb2, stats_pb2_grpc
from postman_shared.db import Database
from postman_stats import exporting, reading
from postman_stats.campaign_client import CampaignClient


class StatsServicer(stats_pb2_grpc.StatsServiceServicer):
    def __init__(self, database: Database, campaigns: CampaignClient) -> None:
        self._database = database
        self._campaigns = campaigns

    def GetCampaignStats(self, request: stats_pb2.StatsRequest, context: Any) -> stats_pb2.CampaignStats:
        campaign = self._campaigns.get_campaign(request.campaign_id, request.user_id)
        return reading.campaign_stats(self._database, campaign)

    def ExportCampaign(self, request: stats_pb2.StatsRequest, context: Any) -> Iterator[stats_pb2.ExportBatch]:
        yield from exporting.export_campaign(self._database, self._campaigns, request.campaign_id, request.user_id)

"""StatsService over gRPC: a thin layer over reading, exporting, timelines and retry_outcomes. Ownership is
campaign's to check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from postman.v1 import stats_pb2, stats_pb2_grpc
from postman_shared.db import Database
from postman_stats import exporting, finishing, reading, retry_outcomes, timelines
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

    def RefreshCampaignStats(self, request: stats_pb2.StatsRequest, context: Any) -> stats_pb2.CampaignStats:
        campaign = self._campaigns.get_campaign(request.campaign_id, request.user_id)  # not_found: another user's
        if campaign.redacted:  # its outcomes are gone: the counters are final, a recount would zero them
            return reading.campaign_stats(self._database, campaign)
        retry_outcomes.recount(self._database, request.campaign_id)
        finishing.finish_completed(self._database, self._campaigns, [request.campaign_id])  # the recount may finish it
        return reading.campaign_stats(self._database, self._campaigns.get_campaign(request.campaign_id,
                                                                                   request.user_id))

    def StartRetry(self, request: stats_pb2.StartRetryRequest, context: Any) -> stats_pb2.StartRetryResponse:
        return stats_pb2.StartRetryResponse(reset=retry_outcomes.start_retry(self._database, request.campaign_id,
                                                                      request.job_id))

    def StreamRecordedRecipients(self, request: stats_pb2.RecordedRecipientsRequest,
                                 context: Any) -> Iterator[stats_pb2.RecipientIds]:
        for ids in retry_outcomes.recorded_recipients(self._database, request.campaign_id, request.after_id):
            yield stats_pb2.RecipientIds(ids=ids)

    def GetCampaignCounters(self, request: stats_pb2.CampaignCountersRequest,
                            context: Any) -> stats_pb2.CampaignCountersList:
        return stats_pb2.CampaignCountersList(
            counters=reading.campaign_counters(self._database, list(request.campaign_ids)))

    def GetCampaignTimeline(self, request: stats_pb2.CampaignTimelineRequest,
                            context: Any) -> stats_pb2.CampaignTimeline:
        campaign = self._campaigns.get_campaign(request.campaign_id, request.user_id)  # not_found: another user's
        return timelines.campaign_timeline(self._database, campaign, request.buckets)

    def GetSendingOverview(self, request: stats_pb2.SendingOverviewRequest, context: Any) -> stats_pb2.SendingOverview:
        window = timelines.OverviewWindow.ending(datetime.now(timezone.utc), request.days, request.time_zone)
        pages = self._campaigns.campaigns_latest_sent_first(request.user_id, timelines.CAMPAIGN_PAGE,
                                                            timelines.MAX_PAGES)
        return timelines.sending_overview(self._database, window, timelines.campaigns_sent_since(pages, window.since))

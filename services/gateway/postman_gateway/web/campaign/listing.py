"""The campaign list: the officer's campaigns, newest first, filtered by channel and status, searched by name, in
pages of 10 or 25. The filters are a GET form, so they work without scripts and every page has its own address.

A page costs two calls whatever its size (no N+1): campaign's ``ListCampaigns`` (three queries: the page, its
count, the jobs of the page's campaigns) and, when a campaign on the page has been sent, stats'
``GetCampaignCounters`` for all of them at once (one query). Recipients and invalid rows come with the campaign.
Above the list, a picture of the officer's messages sent each day of the last 30 (stats' ``GetSendingOverview``,
one call, whatever the page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2, stats_pb2
from postman_gateway.core.backends import backends
from postman_gateway.web import formatting
from postman_gateway.web.campaign import pictures
from postman_gateway.web.pages import officer, render, signed_in_blueprint
from postman_shared.campaign_statuses import CampaignStatus, campaign_status
from postman_shared.grpc import client

CHANNELS = {"EMAIL": "Email", "SMS": "SMS", "TELEGRAM": "Telegram"}
STATUSES = tuple(CampaignStatus)  # the filter's choices: Draft, Scheduled, Sending, Sent
HALTED = "Halted"  # the list's own word for a campaign halted by its bounces or complaints (no filter finds it so)
STATUS_TAGS = {CampaignStatus.DRAFT: "tag--grey", CampaignStatus.SCHEDULED: "tag--yellow", CampaignStatus.SENDING: "",
               CampaignStatus.SENT: "tag--green", HALTED: "tag--red"}
PAGE_SIZES = (10, 25)
MAX_SEARCH = 100
MAX_PAGE = 10**6

blueprint = signed_in_blueprint("campaign_list", __name__)
formatting.install(blueprint)


@dataclass(frozen=True)
class Filters:
    channel: str = ""
    status: str = ""
    name: str = ""
    per_page: int = PAGE_SIZES[0]

    @classmethod
    def from_query(cls) -> "Filters":
        """The filters of the query string; a value the form would not send is read as "all" (no error page for
        an edited URL)."""
        channel = request.args.get("channel", "").upper()
        status = request.args.get("status", "").capitalize()
        per_page = request.args.get("per_page", "")
        return cls(channel=channel if channel in CHANNELS else "", status=status if status in STATUSES else "",
                   name=" ".join(request.args.get("name", "").split())[:MAX_SEARCH],
                   per_page=int(per_page) if per_page in {str(size) for size in PAGE_SIZES} else PAGE_SIZES[0])

    @property
    def active(self) -> bool:
        return bool(self.channel or self.status or self.name)

    def url(self, page: int) -> str:
        """This list with these filters, at ``page``; defaults are left out of the address."""
        query: dict[str, Any] = {key: value for key, value in (("channel", self.channel), ("status", self.status),
                                                                 ("name", self.name)) if value}
        if self.per_page != PAGE_SIZES[0]:
            query["per_page"] = self.per_page
        if page > 1:
            query["page"] = page
        return url_for("campaign_list.list_campaigns", **query)


@dataclass(frozen=True)
class Row:
    id: int
    name: str
    channel: str
    status: str
    tag: str
    created_at: datetime | None
    sent_at: datetime | None
    scheduled_at: datetime | None
    recipients: int
    invalid: int
    sent: int
    errors: int


def status_of(campaign: campaign_pb2.Campaign) -> str:
    """The list's status, as campaign derives it for its filter: from the latest job; a campaign halted by its
    bounces or complaints says so (the filter still finds it under its job's status)."""
    latest = max(campaign.jobs, key=lambda job: job.id, default=None)
    if latest is not None and campaign.halted:
        return HALTED
    return campaign_status(latest.status if latest is not None else None)


def rows_of(campaigns: list[campaign_pb2.Campaign]) -> list[Row]:
    sent_ids = [campaign.id for campaign in campaigns if campaign.jobs]
    counters: dict[int, stats_pb2.CampaignCounters] = {}
    if sent_ids:
        found = client.call(backends().stats.GetCampaignCounters,
                            stats_pb2.CampaignCountersRequest(campaign_ids=sent_ids))
        counters = {counter.campaign_id: counter for counter in found.counters}
    rows = []
    for campaign in campaigns:
        status = status_of(campaign)
        latest = max(campaign.jobs, key=lambda job: job.id, default=None)
        counter = counters.get(campaign.id)
        rows.append(Row(
            id=campaign.id, name=campaign.name, channel=CHANNELS.get(campaign.type, campaign.type.title()),
            status=status, tag=STATUS_TAGS[status], created_at=formatting.as_datetime(campaign.created_at),
            sent_at=formatting.as_datetime(latest.sent_at) if latest is not None else None,
            scheduled_at=formatting.as_datetime(latest.scheduled_at) if latest is not None else None,
            recipients=max(0, campaign.num_recipients - campaign.num_invalid), invalid=campaign.num_invalid,
            sent=counter.sent if counter else 0, errors=counter.error if counter else 0,
        ))
    return rows


def page_links(page: int, pages: int) -> list[int | None]:
    """Page numbers to link: the first, the last, and two either side of this one; None stands for a gap."""
    wanted = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    links: list[int | None] = []
    for number in wanted:
        if links and number - (links[-1] or 0) > 1:
            links.append(None)
        links.append(number)
    return links


@blueprint.get("/campaigns")
def list_campaigns() -> ResponseReturnValue:
    reader = officer()
    assert reader is not None  # require_officer
    filters = Filters.from_query()
    raw_page = request.args.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and 0 < int(raw_page) <= MAX_PAGE else 1
    result = client.call(backends().campaign.ListCampaigns, campaign_pb2.ListCampaignsRequest(
        user_id=reader.user_id, limit=filters.per_page, offset=(page - 1) * filters.per_page, type=filters.channel,
        status=filters.status, name=filters.name, sort_by="created_at", order_by="DESC"))
    total = int(result.total_count)
    pages = max(1, -(-total // filters.per_page))
    if page > pages:  # past the end (campaigns were deleted, or an edited URL): the last page
        return redirect(filters.url(pages))
    # The picture of the last 30 days is the officer's whole sending, whatever the filters; none before a campaign.
    overview = pictures.overview_picture(reader.user_id) if total or filters.active else None
    return render("campaign_list/list.html", title="Campaigns", rows=rows_of(list(result.campaigns)),
                  overview=overview,
                  filters=filters, total=total, page=page, pages=pages, links=page_links(page, pages),
                  channels=CHANNELS, statuses=STATUSES, page_sizes=PAGE_SIZES,
                  first_shown=(page - 1) * filters.per_page + 1,
                  last_shown=min(total, page * filters.per_page))

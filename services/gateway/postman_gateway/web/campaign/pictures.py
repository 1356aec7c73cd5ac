"""The campaign pages' pictures: a campaign's messages by outcome over time (its page), and the officer's messages
sent each day of the last 30 (the campaign list), each with the numbers it shows for a table beside it.

The numbers come from stats (``GetCampaignTimeline``, ``GetSendingOverview``), which checks the owner; the SVG is
drawn by ``web.charts``. Times and days are the officers' (``DISPLAY_TIMEZONE``), labelled with the zone's name.
The campaign's picture shows running totals: at each moment, how many messages had reached each outcome by then
(each message in the outcome it is in now), so its top edge is the messages dealt with, growing as the campaign sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from itertools import accumulate
from zoneinfo import ZoneInfo

from markupsafe import Markup

from postman.v1 import stats_pb2
from postman_gateway.core.backends import backends
from postman_gateway.web import charts, formatting
from postman_shared.grpc import client

TIMELINE_BUCKETS = 60
OVERVIEW_DAYS = 30
# The outcomes as the picture stacks them (bottom first) and the table lists them, in the officers' words.
OUTCOMES = (("delivered", "Delivered"), ("sent", "Sent, no report yet"), ("failed", "Failed"),
            ("bounced", "Bounced or complained"), ("unsubscribed", "Unsubscribed or suppressed"))


def _clock(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment:%M}{'am' if moment.hour < 12 else 'pm'}"


def moment_label(moment: datetime, first: datetime, last: datetime) -> str:
    """A moment on the time axis: its time of day when the picture spans one day, else its day too; seconds when
    the buckets are shorter than a minute."""
    words = _clock(moment)
    if (last - first) < timedelta(minutes=5):
        words = f"{words[:-2]}:{moment:%S}{words[-2:]}"
    if first.date() != last.date():
        words = f"{moment.day} {moment:%b}, {words}"
    return words


@dataclass(frozen=True)
class OutcomePicture:
    """The campaign's picture and its numbers: a row per moment, the running total of each outcome."""

    svg: Markup
    rows: list[tuple[str, list[int]]]  # (the moment's label, the totals in OUTCOMES' order)
    headings: list[str]


def outcome_picture(campaign_id: int, user_id: int, campaign_name: str) -> OutcomePicture:
    timeline = client.call(backends().stats.GetCampaignTimeline, stats_pb2.CampaignTimelineRequest(
        campaign_id=campaign_id, user_id=user_id, buckets=TIMELINE_BUCKETS))
    return picture_of(timeline, campaign_name, formatting.display_zone())


def picture_of(timeline: stats_pb2.CampaignTimeline, campaign_name: str, zone: ZoneInfo) -> OutcomePicture:
    """The picture of a timeline (pure: the tests draw one without a server). The moments are the buckets' ends,
    after a first one at the start of the first bucket where nothing had happened yet."""
    headings = [label for _, label in OUTCOMES]
    zone_name = formatting.zone_name(zone)
    title = f"Messages of {campaign_name} by outcome over time"
    if not timeline.buckets:
        svg = charts.outcome_chart("outcome-chart", title, "Nothing has been recorded for this campaign yet.", [],
                                   [charts.Series(key, label, []) for key, label in OUTCOMES], f"Time ({zone_name})")
        return OutcomePicture(svg, [], headings)
    width = timedelta(seconds=timeline.bucket_seconds)
    start = timeline.buckets[0].start.ToDatetime(tzinfo=timezone.utc)
    moments = [(start + width * i).astimezone(zone) for i in range(len(timeline.buckets) + 1)]
    totals = {key: [0, *accumulate(getattr(bucket, key) for bucket in timeline.buckets)] for key, _ in OUTCOMES}
    labels = [moment_label(moment, moments[0], moments[-1]) for moment in moments]
    series = [charts.Series(key, label, totals[key]) for key, label in OUTCOMES]
    final = {label: totals[key][-1] for key, label in OUTCOMES}
    when = (f"On {moments[0].day} {moments[0]:%B %Y}, from {labels[0]} to {labels[-1]}"
            if moments[0].date() == moments[-1].date() else f"From {labels[0]} to {labels[-1]} {moments[-1]:%Y}")
    description = (f"{when} ({zone_name}), {sum(final.values()):,} messages reached an outcome: "
                   + "; ".join(f"{label.lower()} {number:,}" for label, number in final.items()) + ".")
    svg = charts.outcome_chart("outcome-chart", title, description, labels, series, f"Time ({zone_name})")
    rows = [(labels[i], [totals[key][i] for key, _ in OUTCOMES]) for i in range(1, len(moments))]
    return OutcomePicture(svg, rows, headings)


@dataclass(frozen=True)
class OverviewPicture:
    svg: Markup
    days: list[tuple[str, int]]  # (the day in words, messages sent)
    total: int


def day_label(day: date) -> str:
    return f"{day.day} {day:%b}"


def overview_picture(user_id: int) -> OverviewPicture:
    zone = formatting.display_zone()
    overview = client.call(backends().stats.GetSendingOverview, stats_pb2.SendingOverviewRequest(
        user_id=user_id, days=OVERVIEW_DAYS, time_zone=zone.key))
    return overview_of(overview, formatting.zone_name(zone))


def overview_of(overview: stats_pb2.SendingOverview, zone_name: str) -> OverviewPicture:
    """The list's picture of a sending overview (pure: the tests draw one without a server)."""
    days = [(day_label(date.fromisoformat(day.day)), int(day.messages)) for day in overview.days]
    total = sum(number for _, number in days)
    busiest = max(days, key=lambda day: day[1], default=None)
    if busiest is None or total == 0:
        description = f"No messages were sent in the last {len(days)} days."
    else:
        description = (f"{total:,} messages sent in the last {len(days)} days, from {days[0][0]} to {days[-1][0]}; "
                       f"the busiest day was {busiest[0]} with {busiest[1]:,}.")
    svg = charts.daily_bars("overview-chart", f"Messages sent each day of the last {len(days)} days", description,
                            days, f"Day ({zone_name})")
    return OverviewPicture(svg, days, total)


__all__ = ["OUTCOMES", "OutcomePicture", "OverviewPicture", "outcome_picture", "overview_of", "overview_picture",
           "picture_of"]

"""The pictures' SVG, pinned by golden files: the campaign page's outcomes over time and the list's 30 days.

The golden files are tests/unit/gateway/golden/*.svg. After a deliberate change to the drawing, regenerate them
with ``UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/gateway/test_charts.py`` and look at the new files (open
them in a browser) before committing; a test run without the variable only compares.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from postman.v1 import stats_pb2
from postman_gateway.web import charts
from postman_gateway.web.campaign import pictures
from postman_shared.timestamps import to_timestamp

GOLDEN = Path(__file__).parent / "golden"
SINGAPORE = ZoneInfo("Asia/Singapore")
SVG = "{http://www.w3.org/2000/svg}"


def matches_golden(name: str, svg: str) -> None:
    path = GOLDEN / f"{name}.svg"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(svg + "\n")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 to write it"
    assert svg + "\n" == path.read_text(), f"{name} differs from {path} (UPDATE_GOLDEN=1 rewrites it)"


def timeline(start: datetime, width: int, buckets: list[tuple[int, int, int, int, int]]) -> stats_pb2.CampaignTimeline:
    return stats_pb2.CampaignTimeline(bucket_seconds=width, buckets=[
        stats_pb2.TimelineBucket(start=to_timestamp(start + timedelta(seconds=width * i)), sent=s, delivered=d,
                                 failed=f, bounced=b, unsubscribed=u)
        for i, (s, d, f, b, u) in enumerate(buckets)])


def overview(last: date, numbers: list[int]) -> stats_pb2.SendingOverview:
    first = last - timedelta(days=len(numbers) - 1)
    return stats_pb2.SendingOverview(days=[stats_pb2.DayCount(day=(first + timedelta(days=i)).isoformat(),
                                                              messages=n) for i, n in enumerate(numbers)])


def parsed(svg: str) -> ET.Element:
    """The SVG as XML (it must be well-formed to be an SVG document of its own)."""
    return ET.fromstring(svg)


START = datetime(2026, 12, 1, 1, 30, tzinfo=timezone.utc)  # 9:30am in Singapore


def test_a_campaign_sending_over_ten_minutes():
    buckets = [(40, 100, 2, 1, 0), (30, 150, 5, 3, 1), (25, 160, 1, 0, 0), (10, 120, 0, 2, 0), (5, 90, 3, 0, 1),
               (5, 60, 0, 1, 0), (0, 40, 0, 0, 0), (0, 20, 1, 0, 0), (0, 10, 0, 0, 0), (0, 5, 0, 0, 0)]
    picture = pictures.picture_of(timeline(START, 60, buckets), "December newsletter", SINGAPORE)
    matches_golden("campaign-outcomes", str(picture.svg))
    assert picture.rows[0] == ("9:31am", [100, 40, 2, 1, 0])
    assert picture.rows[-1] == ("9:40am", [755, 115, 12, 7, 2])
    assert ("On 1 December 2026, from 9:30am to 9:40am (Singapore time), 891 messages reached an outcome: delivered "
            "755; sent, no report yet 115; failed 12; bounced or complained 7; unsubscribed or suppressed 2.") \
        in str(picture.svg)


def test_a_campaign_with_nothing_recorded_shows_empty_axes_and_says_so():
    picture = pictures.picture_of(stats_pb2.CampaignTimeline(), "Draft & plan <b>", SINGAPORE)
    matches_golden("campaign-outcomes-empty", str(picture.svg))
    root = parsed(str(picture.svg))
    assert root.find(f"{SVG}title").text == "Messages of Draft & plan <b> by outcome over time"  # escaped, then read
    assert "Nothing recorded yet" in str(picture.svg)
    assert picture.rows == []


def test_one_bucket_is_drawn_from_nothing_to_its_end():
    picture = pictures.picture_of(timeline(START, 1, [(3, 0, 0, 0, 0)]), "One", SINGAPORE)
    matches_golden("campaign-outcomes-one-point", str(picture.svg))
    assert [label for label, _ in picture.rows] == ["9:30:01am"]
    assert len(parsed(str(picture.svg)).findall(f".//{SVG}polygon")) == 1


def test_large_numbers_over_days_are_short_on_the_axis_and_exact_in_the_legend():
    buckets = [(0, 400_000, 1_000, 500, 20)] * 3 + [(0, 12_345, 0, 0, 0)]
    picture = pictures.picture_of(timeline(START, 86400, buckets), "Millions", SINGAPORE)
    svg = str(picture.svg)
    matches_golden("campaign-outcomes-large", svg)
    assert ">1.5M<" in svg  # the top of the scale
    assert "Delivered 1,212,345" in svg
    assert picture.rows[0][0] == "2 Dec, 9:30am"  # several days: the day too
    assert "From 1 Dec, 9:30am to 5 Dec, 9:30am 2026 (Singapore time)" in svg


def test_the_last_thirty_days():
    numbers = [0] * 20 + [1200, 0, 0, 35_000, 4, 0, 0, 980, 12, 7]
    picture = pictures.overview_of(overview(date(2026, 12, 5), numbers), "Singapore time")
    matches_golden("sending-overview", str(picture.svg))
    assert picture.total == sum(numbers)
    assert picture.days[-1] == ("5 Dec", 7)
    assert "the busiest day was 29 Nov with 35,000" in str(picture.svg)


def test_thirty_quiet_days():
    picture = pictures.overview_of(overview(date(2026, 12, 5), [0] * 30), "Singapore time")
    matches_golden("sending-overview-empty", str(picture.svg))
    assert "No messages were sent in the last 30 days." in str(picture.svg)


@pytest.mark.parametrize("svg", [
    str(pictures.picture_of(timeline(START, 60, [(1, 2, 3, 4, 5)] * 3), "A", SINGAPORE).svg),
    str(pictures.overview_of(overview(date(2026, 12, 5), list(range(30))), "UTC").svg),
])
def test_every_picture_is_an_accessible_image_without_style_attributes(svg):
    root = parsed(svg)
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert (root.get("aria-labelledby"), root.get("aria-describedby")) == (title.get("id"), desc.get("id"))
    assert title.text and desc.text
    assert not re.search(r"\sstyle=", svg)  # the Content-Security-Policy refuses inline styles
    assert "<script" not in svg


def test_every_outcome_has_a_pattern_of_its_own_so_colour_is_not_the_only_cue():
    outcome_looks = [charts.LOOKS[key] for key, _ in pictures.OUTCOMES]
    assert len({look.pattern for look in outcome_looks}) == len(outcome_looks)
    assert len({look.colour for look in outcome_looks}) == len(outcome_looks)


@pytest.mark.parametrize(("value", "words"), [(0, "0"), (950, "950"), (9_500, "9,500"), (12_500, "12.5k"),
                                              (95_000, "95k"), (250_000, "250k"), (1_000_000, "1M"),
                                              (1_500_000, "1.5M"), (12_000_000, "12M")])
def test_axis_labels_fit_their_margin(value, words):
    assert charts.short_count(value) == words


@pytest.mark.parametrize(("largest", "scale"), [(0, (4, 1)), (1, (1, 1)), (3, (3, 1)), (7, (8, 2)), (10, (10, 5)),
                                                (755, (800, 200)), (1_212_345, (1_500_000, 500_000))])
def test_the_scale_is_a_few_round_steps_above_the_largest_number(largest, scale):
    assert charts.nice_top(largest) == scale

"""Times as the officer reads them (``postman_gateway.web.formatting``): a UTC instant written in the display zone
with the zone's name, the clocks' abbreviation where they change, and a zone that does not exist refused when the
settings are read (at start-up)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from google.protobuf.timestamp_pb2 import Timestamp

from postman_gateway.web import SETTINGS
from postman_gateway.web.formatting import NOTHING, local_time, time_tag, zone_hint, zone_name
from postman_shared.settings import Settings, SettingsError

SINGAPORE, LONDON = ZoneInfo("Asia/Singapore"), ZoneInfo("Europe/London")
INSTANT = datetime(2026, 12, 5, 15, 34, tzinfo=timezone.utc)


def test_a_utc_instant_is_written_in_singapore_time_with_its_label():
    assert local_time(INSTANT, SINGAPORE) == "5 December 2026, 11:34pm (Singapore time)"
    assert local_time(datetime(2026, 12, 1, 1, 30, tzinfo=timezone.utc), SINGAPORE) == \
        "1 December 2026, 9:30am (Singapore time)"
    assert local_time(datetime(2026, 12, 31, 16, 5, tzinfo=timezone.utc), SINGAPORE) == \
        "1 January 2027, 12:05am (Singapore time)"  # the next day, and year, in Singapore
    assert local_time(INSTANT, SINGAPORE, label=False) == "5 December 2026, 11:34pm"


def test_protobuf_timestamps_and_missing_times():
    stamp = Timestamp()
    stamp.FromDatetime(INSTANT)
    assert local_time(stamp, SINGAPORE) == "5 December 2026, 11:34pm (Singapore time)"
    assert local_time(Timestamp(), SINGAPORE) == NOTHING and local_time(None, SINGAPORE) == NOTHING


def test_another_zone_is_named_as_its_officers_say_it():
    assert local_time(INSTANT, ZoneInfo("Asia/Kolkata")) == "5 December 2026, 9:04pm (Kolkata time)"
    assert local_time(INSTANT, ZoneInfo("UTC")) == "5 December 2026, 3:34pm (UTC)"
    assert zone_name(ZoneInfo("America/New_York")) == "New York time"
    assert zone_hint(SINGAPORE, 2026) == "Singapore time (UTC+8)"
    assert zone_hint(ZoneInfo("Asia/Kolkata"), 2026) == "Kolkata time (UTC+5:30)"
    assert zone_hint(ZoneInfo("UTC"), 2026) == "UTC"


def test_where_the_clocks_change_a_time_says_which_side_of_the_change_it_is():
    assert local_time(INSTANT, LONDON) == "5 December 2026, 3:34pm (London time, GMT)"
    assert local_time(datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc), LONDON) == \
        "1 July 2026, 1:00pm (London time, BST)"
    # The hour the clocks go back happens twice: the abbreviation tells the two apart.
    assert local_time(datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc), LONDON) == \
        "25 October 2026, 1:30am (London time, BST)"
    assert local_time(datetime(2026, 10, 25, 1, 30, tzinfo=timezone.utc), LONDON) == \
        "25 October 2026, 1:30am (London time, GMT)"
    assert zone_hint(LONDON, 2026) == "London time (UTC+0 or UTC+1)"


def test_the_time_element_keeps_the_utc_instant_for_machines_and_shows_the_gateway_zone():
    app = Flask(__name__)
    app.extensions[SETTINGS] = Settings.from_env({})
    with app.app_context():
        assert str(time_tag(INSTANT)) == \
            '<time datetime="2026-12-05T15:34:00+00:00">5 December 2026, 11:34pm (Singapore time)</time>'
        assert str(time_tag(None)) == NOTHING
    app.extensions[SETTINGS] = Settings.from_env({"DISPLAY_TIMEZONE": "Europe/London"})
    with app.app_context():
        assert ">5 December 2026, 3:34pm (London time, GMT)</time>" in str(time_tag(INSTANT))


def test_the_display_zone_defaults_to_singapore_and_is_checked_at_start_up():
    assert Settings.from_env({}).display_zone == SINGAPORE
    assert Settings.from_env({"DISPLAY_TIMEZONE": "Europe/London"}).display_zone == LONDON
    for wrong in ("Singapore/Central", "UTC+8", "../../etc/passwd"):
        with pytest.raises(SettingsError, match="DISPLAY_TIMEZONE must be a time zone name of the tz database, "
                                                "such as Asia/Singapore"):
            Settings.from_env({"DISPLAY_TIMEZONE": wrong})

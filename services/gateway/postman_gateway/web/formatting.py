"""How the pages write dates and numbers: one place, so every page says them the same way.

Every time is written in the officers' zone, ``DISPLAY_TIMEZONE`` (Singapore unless set), and says which zone it is
in: ``1 December 2026, 9:30am (Singapore time)``. It is written on the server, so a page reads the same with scripts
or without and whatever the zone of the officer's computer, and it is the zone the schedule form reads a typed time
in (``zone_hint``). A ``<time>`` element keeps the UTC instant in its ``datetime`` attribute for machines; the API
speaks ISO 8601 UTC only.

Zones are named the way an officer reads them: ``Singapore time``, ``London time``, ``UTC``; where the clocks
change (daylight saving time) a time also carries the abbreviation it had then (``London time, BST``), so the hour
the clocks go back is not ambiguous.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app
from google.protobuf.timestamp_pb2 import Timestamp
from markupsafe import Markup

from postman_gateway.web import SETTINGS

NOTHING = "—"
# Zones whose officers call them something other than "<city> time".
ZONE_NAMES = {"UTC": "UTC", "Etc/UTC": "UTC", "Etc/GMT": "GMT", "GMT": "GMT", "Singapore": "Singapore time"}


def as_datetime(value: Timestamp | datetime | None) -> datetime | None:
    """A protobuf Timestamp (unset: None) or a datetime, in UTC."""
    if value is None:
        return None
    if isinstance(value, Timestamp):
        if value.seconds == 0 and value.nanos == 0:
            return None
        return value.ToDatetime(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def display_zone() -> ZoneInfo:
    """The running gateway's ``DISPLAY_TIMEZONE`` (read in a request, where every page is rendered)."""
    zone: ZoneInfo = current_app.extensions[SETTINGS].display_zone
    return zone


def zone_name(zone: ZoneInfo) -> str:
    """``Singapore time``, ``London time``, ``New York time``, ``UTC``: the zone as an officer says it."""
    if zone.key in ZONE_NAMES:
        return ZONE_NAMES[zone.key]
    return f"{zone.key.rsplit('/', 1)[-1].replace('_', ' ')} time"


def display_zone_name() -> str:
    """The display zone as an officer says it, for a heading or a hint: ``Singapore time``."""
    return zone_name(display_zone())


def _offsets(zone: ZoneInfo, year: int) -> list[str]:
    """The zone's offsets from UTC in ``year`` (one, or winter's and summer's), like ``UTC+8`` or ``UTC+5:30``."""
    words = []
    for month in (1, 7):
        offset = datetime(year, month, 1, tzinfo=zone).utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset is not None else 0
        sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
        hours = f"{minutes // 60}" + (f":{minutes % 60:02d}" if minutes % 60 else "")
        words.append(f"UTC{sign}{hours}")
    return sorted(set(words), key=words.index)


def zone_hint(zone: ZoneInfo | None = None, year: int | None = None) -> str:
    """The zone a form reads times in, with its offset: ``Singapore time (UTC+8)``, ``London time (UTC+0 or
    UTC+1)``."""
    zone = zone or display_zone()
    offsets = _offsets(zone, year or datetime.now(timezone.utc).year)
    name = zone_name(zone)
    return name if name in ("UTC", "GMT") else f"{name} ({' or '.join(offsets)})"


def local_time(value: Timestamp | datetime | None, zone: ZoneInfo | None = None, label: bool = True) -> str:
    """``1 December 2026, 9:30am (Singapore time)`` in ``zone`` (the display zone unless given), or a dash when
    there is no time. ``label`` False leaves the zone out, for a column whose heading names it."""
    moment = as_datetime(value)
    if moment is None:
        return NOTHING
    zone = zone or display_zone()
    local = moment.astimezone(zone)
    hour = local.hour % 12 or 12
    words = f"{local.day} {local:%B %Y}, {hour}:{local:%M}{'am' if local.hour < 12 else 'pm'}"
    if not label:
        return words
    name = zone_name(zone)
    abbreviation = local.tzname() or ""
    if len(_offsets(zone, local.year)) > 1 and abbreviation.isalpha() and abbreviation != name:
        name = f"{name}, {abbreviation}"  # the clocks change here: say which side of the change
    return f"{words} ({name})"


def time_tag(value: Timestamp | datetime | None) -> Markup:
    """The time in the display zone inside a ``<time>`` element whose ``datetime`` is the UTC instant (its parts
    are escaped)."""
    moment = as_datetime(value)
    if moment is None:
        return Markup(NOTHING)  # noqa: S704 - a constant dash, no user data
    return Markup('<time datetime="{}">{}</time>').format(moment.isoformat(), local_time(moment))


def count(value: int) -> str:
    """``12,345``."""
    return f"{value:,}"


def install(blueprint: Blueprint) -> None:
    """Makes the helpers available to every template (registered with the app when the blueprint is)."""
    blueprint.add_app_template_global(time_tag, "time_tag")
    blueprint.add_app_template_global(zone_hint, "zone_hint")
    blueprint.add_app_template_global(display_zone_name, "zone_name")
    blueprint.add_app_template_filter(local_time, "local_time")
    blueprint.add_app_template_filter(count, "count")

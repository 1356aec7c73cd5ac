"""How the pages write dates and numbers: one place, so every page says them the same way.

Dates are written in UTC on the server, inside ``<time datetime=... data-local>``; ``static/js/app.js`` rewrites them
in the reader's own time zone when scripts run, so without scripts the page is still right, only in UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint
from google.protobuf.timestamp_pb2 import Timestamp
from markupsafe import Markup

NOTHING = "—"


def as_datetime(value: Timestamp | datetime | None) -> datetime | None:
    """A protobuf Timestamp (unset: None) or a datetime, in UTC."""
    if value is None:
        return None
    if isinstance(value, Timestamp):
        if value.seconds == 0 and value.nanos == 0:
            return None
        return value.ToDatetime(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def date_time(value: Timestamp | datetime | None) -> str:
    """``27 Nov 2025, 14:30 UTC``, or a dash when there is no date."""
    moment = as_datetime(value)
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC" if moment else NOTHING


def time_tag(value: Timestamp | datetime | None) -> Markup:
    """The date in a ``<time>`` element a script can show in local time (its parts are escaped)."""
    moment = as_datetime(value)
    if moment is None:
        return Markup(NOTHING)  # noqa: S704 - a constant dash, no user data
    return Markup('<time datetime="{}" data-local>{}</time>').format(moment.isoformat(), date_time(moment))


def count(value: int) -> str:
    """``12,345``."""
    return f"{value:,}"


def install(blueprint: Blueprint) -> None:
    """Makes the helpers available to every template (registered with the app when the blueprint is)."""
    blueprint.add_app_template_global(time_tag, "time_tag")
    blueprint.add_app_template_filter(date_time, "date_time")
    blueprint.add_app_template_filter(count, "count")

"""Recording delivery events: idempotent outcomes and exact counters, straight against PostgreSQL."""

from __future__ import annotations

import secrets

from sqlalchemy import text

from postman_shared.messages import DeliveryEvent, JobRendered
from postman_stats import recording


def _ids() -> tuple[int, int]:
    campaign_id = secrets.randbelow(10**9) + 1
    return campaign_id, campaign_id * 1000


def _counters(database, campaign_id):
    with database.session() as session:
        return session.execute(
            text("SELECT sent, error, expected, job_id FROM campaign_counters WHERE campaign_id = :c"),
            {"c": campaign_id},
        ).one()


def test_an_event_delivered_again_is_counted_once(database):
    campaign_id, base = _ids()
    events = [DeliveryEvent(base + n, campaign_id, 9, "SENT") for n in range(5)]
    events.append(DeliveryEvent(base + 5, campaign_id, 9, "ERROR", "smtp_550", "User unknown"))

    first = recording.record(database, events)
    again = recording.record(database, events[:3] + events[:3])  # redelivered, and twice within one batch

    assert (first.counted, first.duplicates) == (6, 0)
    assert (again.counted, again.duplicates) == (0, 3)
    assert _counters(database, campaign_id)[:2] == (5, 1)


def test_counters_are_exact_per_campaign_across_batches(database):
    (first_campaign, first_base), (second_campaign, second_base) = _ids(), _ids()
    recording.record(database, [DeliveryEvent(first_base + n, first_campaign, 1, "SENT") for n in range(3)]
                     + [DeliveryEvent(second_base, second_campaign, 2, "ERROR", "smtp_unavailable", "451")])
    recording.record(database, [DeliveryEvent(first_base + 3, first_campaign, 1, "ERROR", "smtp_550", "No")]
                     + [DeliveryEvent(second_base + n, second_campaign, 2, "SENT") for n in range(1, 4)])

    assert _counters(database, first_campaign)[:2] == (3, 1)
    assert _counters(database, second_campaign)[:2] == (3, 1)


def test_the_recorded_outcome_keeps_the_first_status_and_error(database):
    campaign_id, base = _ids()
    recording.record(database, [DeliveryEvent(base, campaign_id, 1, "ERROR", "smtp_550", "User unknown")])
    recording.record(database, [DeliveryEvent(base, campaign_id, 1, "SENT")])

    with database.session() as session:
        row = session.execute(
            text("SELECT status, error_code, error_reason FROM message_outcomes WHERE recipient_id = :r"), {"r": base},
        ).one()
    assert tuple(row) == ("ERROR", "smtp_550", "User unknown")
    assert _counters(database, campaign_id)[:2] == (0, 1)


def test_job_rendered_sets_the_expected_total_and_the_job_whichever_arrives_first(database):
    campaign_id, base = _ids()
    recording.record(database, [DeliveryEvent(base, campaign_id, 77, "SENT")])
    recording.record(database, [JobRendered(77, campaign_id, 2)])
    recording.record(database, [JobRendered(77, campaign_id, 2), DeliveryEvent(base + 1, campaign_id, 77, "SENT")])

    assert tuple(_counters(database, campaign_id)) == (2, 0, 2, 77)

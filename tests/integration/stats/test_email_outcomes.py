"""What happens to campaign messages after the provider took them, as stats records it against PostgreSQL: receipts
of every kind move a message forward between Postman's counters, suppressed messages are counted where upstream
counts them, the statistics and the export say so, and every counter adds up at every step."""

from __future__ import annotations

import secrets

from sqlalchemy import text

from postman_shared.messages import DeliveryEvent
from postman_stats import recording, retry_outcomes
from postman_stats.models import CampaignCounter


def _ids() -> tuple[int, int]:
    campaign_id = secrets.randbelow(10**9) + 1
    return campaign_id, campaign_id * 1000


def _receipt(recipient_id: int, campaign_id: int, status: str, code: str | None = None,
             sub_type: str | None = None) -> DeliveryEvent:
    return DeliveryEvent(recipient_id, campaign_id, 0, status, code, None, kind="receipt", error_sub_type=sub_type)


def _counters(database, campaign_id: int) -> dict[str, int]:
    columns = ("sent", "error", "invalid_recipients", "unsubscribed", "delivered", "opened", "hard_bounced",
               "soft_bounced", "complained", "blacklisted")
    with database.session() as session:
        row = session.execute(text(f"SELECT {', '.join(columns)} FROM campaign_counters WHERE campaign_id = :c"),
                              {"c": campaign_id}).mappings().one()
    return {name: row[name] for name in columns if row[name]}


def _status(database, recipient_id: int) -> tuple[str, str | None, str | None]:
    with database.session() as session:
        return tuple(session.execute(text("SELECT status, error_code, error_sub_type FROM message_outcomes "
                                          "WHERE recipient_id = :r"), {"r": recipient_id}).one())


def test_receipts_move_each_message_forward_and_between_the_counters(database):
    campaign_id, base = _ids()
    recording.record(database, [DeliveryEvent(base + n, campaign_id, 7, "SENT") for n in range(5)])

    recording.record(database, [
        _receipt(base, campaign_id, "DELIVERED"),
        _receipt(base + 1, campaign_id, "DELIVERED"), _receipt(base + 1, campaign_id, "OPENED"),
        _receipt(base + 2, campaign_id, "BOUNCED", "hard_bounce", "NoEmail"),
        _receipt(base + 3, campaign_id, "SOFT_BOUNCED", "soft_bounce", "MailboxFull"),
    ])

    assert _status(database, base) == ("DELIVERED", None, None)
    assert _status(database, base + 1) == ("OPENED", None, None)
    assert _status(database, base + 2) == ("BOUNCED", "hard_bounce", "NoEmail")
    assert _status(database, base + 3) == ("SOFT_BOUNCED", "soft_bounce", "MailboxFull")
    assert _counters(database, campaign_id) == {"sent": 3, "invalid_recipients": 2, "delivered": 1, "opened": 1,
                                                "hard_bounced": 1, "soft_bounced": 1}


def test_a_complaint_beats_delivered_and_opened_and_a_late_delivery_never_undoes_a_bounce(database):
    campaign_id, base = _ids()
    recording.record(database, [DeliveryEvent(base + n, campaign_id, 7, "SENT") for n in range(2)])
    recording.record(database, [_receipt(base, campaign_id, "OPENED"),
                                _receipt(base + 1, campaign_id, "BOUNCED", "hard_bounce", "General")])

    later = recording.record(database, [_receipt(base, campaign_id, "COMPLAINT", "complaint", "abuse"),
                                        _receipt(base + 1, campaign_id, "DELIVERED"),
                                        _receipt(base + 1, campaign_id, "OPENED")])

    assert later.receipts == 1 and later.duplicates == 1
    assert later.bad_news == frozenset({campaign_id})
    assert _status(database, base) == ("COMPLAINT", "complaint", "abuse")
    assert _status(database, base + 1) == ("BOUNCED", "hard_bounce", "General")
    assert _counters(database, campaign_id) == {"invalid_recipients": 2, "hard_bounced": 1, "complained": 1}


def test_the_same_event_twice_counts_once(database):
    campaign_id, base = _ids()
    recording.record(database, [DeliveryEvent(base, campaign_id, 7, "SENT")])
    bounce = _receipt(base, campaign_id, "BOUNCED", "hard_bounce", "NoEmail")

    first = recording.record(database, [bounce, bounce])
    second = recording.record(database, [bounce])

    assert (first.receipts, second.receipts, second.duplicates) == (1, 0, 1)
    assert _counters(database, campaign_id) == {"invalid_recipients": 1, "hard_bounced": 1}


def test_suppressed_messages_count_as_invalid_or_unsubscribed_and_take_no_receipt(database):
    campaign_id, base = _ids()
    recording.record(database, [
        DeliveryEvent(base, campaign_id, 7, "BLACKLISTED", "hard_bounce", "Not sent: bounced before"),
        DeliveryEvent(base + 1, campaign_id, 7, "UNSUBSCRIBED", "unsubscribe", "Not sent: unsubscribed"),
        DeliveryEvent(base + 2, campaign_id, 7, "SENT"),
    ])

    late = recording.record(database, [_receipt(base, campaign_id, "DELIVERED"),
                                       _receipt(base + 1, campaign_id, "BOUNCED", "hard_bounce")])

    assert late.receipts == 0
    assert _status(database, base) == ("BLACKLISTED", "hard_bounce", None)
    assert _status(database, base + 1) == ("UNSUBSCRIBED", "unsubscribe", None)
    assert _counters(database, campaign_id) == {"sent": 1, "invalid_recipients": 1, "unsubscribed": 1,
                                                "blacklisted": 1}


def test_a_receipt_that_overtakes_the_senders_event_is_counted_once_where_it_belongs(database):
    campaign_id, base = _ids()
    recording.record(database, [_receipt(base, campaign_id, "COMPLAINT", "complaint", "abuse")])
    recording.record(database, [DeliveryEvent(base, campaign_id, 7, "SENT")])

    assert _status(database, base) == ("COMPLAINT", "complaint", "abuse")
    assert _counters(database, campaign_id) == {"invalid_recipients": 1, "complained": 1}


def test_refresh_stats_recounts_every_counter_from_the_outcomes(database):
    campaign_id, base = _ids()
    recording.record(database, [DeliveryEvent(base + n, campaign_id, 7, "SENT") for n in range(3)]
                     + [DeliveryEvent(base + 3, campaign_id, 7, "UNSUBSCRIBED", "unsubscribe")])
    recording.record(database, [_receipt(base, campaign_id, "OPENED"),
                                _receipt(base + 1, campaign_id, "BOUNCED", "hard_bounce")])
    expected = _counters(database, campaign_id)
    with database.unit_of_work() as session:
        session.execute(text("UPDATE campaign_counters SET sent = 0, opened = 9, unsubscribed = 0, hard_bounced = 0 "
                             "WHERE campaign_id = :c"), {"c": campaign_id})

    retry_outcomes.recount(database, campaign_id)

    assert _counters(database, campaign_id) == expected == {"sent": 2, "invalid_recipients": 1, "unsubscribed": 1,
                                                            "opened": 1, "hard_bounced": 1}


def test_a_retry_judges_halting_on_what_it_sends_from_then_on(database):
    campaign_id, base = _ids()
    recording.record(database, [DeliveryEvent(base + n, campaign_id, 7, "SENT") for n in range(4)])
    recording.record(database, [_receipt(base + n, campaign_id, "BOUNCED", "hard_bounce") for n in range(2)])
    with database.unit_of_work() as session:
        session.execute(text("UPDATE campaign_counters SET halted_at = now() WHERE campaign_id = :c"),
                        {"c": campaign_id})

    retry_outcomes.start_retry(database, campaign_id, 8)

    with database.session() as session:
        counter = session.get(CampaignCounter, campaign_id)
        assert counter is not None
        assert (counter.halt_base_outcomes, counter.halt_base_hard_bounced, counter.halted_at) == (4, 2, None)

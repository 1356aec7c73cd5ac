"""Applying SMS delivery receipts to recorded outcomes, straight against PostgreSQL: each receipt counts once, in
whatever order it arrives with the sender's own event, a message only ever moves forward, and sent + error always
adds up."""

from __future__ import annotations

import secrets
import threading

from sqlalchemy import text

from postman_shared.broker import Delivery
from postman_shared.messages import DeliveryEvent
from postman_stats import recording
from postman_stats.consumer import decode


def _ids() -> tuple[int, int]:
    campaign_id = secrets.randbelow(10**9) + 1
    return campaign_id, campaign_id * 1000


def _sent(recipient_id: int, campaign_id: int, job_id: int = 7) -> DeliveryEvent:
    return DeliveryEvent(recipient_id, campaign_id, job_id, "SENT")


def _delivered(recipient_id: int, campaign_id: int) -> DeliveryEvent:
    return DeliveryEvent(recipient_id, campaign_id, 0, "DELIVERED", kind="receipt")


def _undelivered(recipient_id: int, campaign_id: int, code: str = "twilio_30003") -> DeliveryEvent:
    return DeliveryEvent(recipient_id, campaign_id, 0, "ERROR", code, "Twilio reported the message undelivered",
                         kind="receipt")


def _counters(database, campaign_id: int) -> tuple[int, int]:
    with database.session() as session:
        row = session.execute(text("SELECT sent, error FROM campaign_counters WHERE campaign_id = :c"),
                              {"c": campaign_id}).one()
    return row.sent, row.error


def _outcome(database, recipient_id: int) -> tuple:
    with database.session() as session:
        return tuple(session.execute(
            text("SELECT status, error_code, receipt, receipt_at IS NOT NULL AS has_receipt_at, job_id "
                 "FROM message_outcomes WHERE recipient_id = :r"), {"r": recipient_id}).one())


def test_an_error_receipt_after_sent_turns_the_message_into_an_error_and_moves_the_counters(database):
    campaign_id, base = _ids()
    recording.record(database, [_sent(base + n, campaign_id) for n in range(3)])

    recorded = recording.record(database, [_undelivered(base, campaign_id)])

    assert (recorded.counted, recorded.receipts, recorded.duplicates) == (0, 1, 0)
    assert _outcome(database, base) == ("ERROR", "twilio_30003", "ERROR", True, 7)
    assert _counters(database, campaign_id) == (2, 1)


def test_a_delivered_receipt_makes_the_message_delivered_and_keeps_it_counted_as_sent(database):
    campaign_id, base = _ids()
    recording.record(database, [_sent(base, campaign_id)])

    recorded = recording.record(database, [_delivered(base, campaign_id)])

    assert recorded.receipts == 1
    assert _outcome(database, base) == ("DELIVERED", None, "DELIVERED", True, 7)
    assert _counters(database, campaign_id) == (1, 0)


def test_a_receipt_before_the_senders_event_records_the_outcome_and_the_late_event_changes_nothing(database):
    campaign_id, base = _ids()
    early = recording.record(database, [_undelivered(base, campaign_id), _delivered(base + 1, campaign_id)])
    late = recording.record(database, [_sent(base, campaign_id), _sent(base + 1, campaign_id)])

    assert (early.counted, early.receipts) == (2, 2)
    assert (late.counted, late.duplicates) == (0, 2)
    assert _outcome(database, base) == ("ERROR", "twilio_30003", "ERROR", True, 0)
    assert _outcome(database, base + 1) == ("DELIVERED", None, "DELIVERED", True, 0)
    assert _counters(database, campaign_id) == (1, 1)


def test_a_repeated_receipt_changes_nothing_in_the_same_or_a_later_batch(database):
    campaign_id, base = _ids()
    recording.record(database, [_sent(base, campaign_id), _sent(base + 1, campaign_id)])
    first = recording.record(database, [_undelivered(base, campaign_id), _undelivered(base, campaign_id),
                                        _delivered(base + 1, campaign_id)])
    again = recording.record(database, [_undelivered(base, campaign_id), _delivered(base + 1, campaign_id),
                                        _delivered(base + 1, campaign_id)])

    assert (first.receipts, first.duplicates) == (2, 0)
    assert (again.receipts, again.duplicates) == (0, 2)
    assert _outcome(database, base)[:3] == ("ERROR", "twilio_30003", "ERROR")
    assert _outcome(database, base + 1)[:3] == ("DELIVERED", None, "DELIVERED")
    assert _counters(database, campaign_id) == (1, 1)


def test_a_late_delivered_receipt_never_undoes_an_error_and_a_failure_after_delivered_wins(database):
    campaign_id, base = _ids()
    recording.record(database, [_sent(base, campaign_id), _sent(base + 1, campaign_id)])
    recording.record(database, [_undelivered(base, campaign_id), _delivered(base + 1, campaign_id)])

    later = recording.record(database, [_delivered(base, campaign_id), _undelivered(base + 1, campaign_id)])

    assert (later.receipts, later.duplicates) == (1, 1)
    assert _outcome(database, base)[:3] == ("ERROR", "twilio_30003", "ERROR")
    assert _outcome(database, base + 1)[:3] == ("ERROR", "twilio_30003", "ERROR")
    assert _counters(database, campaign_id) == (0, 2)


def test_an_error_receipt_for_a_message_the_sender_recorded_as_an_error_changes_nothing(database):
    campaign_id, base = _ids()
    recording.record(database, [DeliveryEvent(base, campaign_id, 7, "ERROR", "twilio_21211", "Not a number")])

    recorded = recording.record(database, [_undelivered(base, campaign_id)])

    assert (recorded.receipts, recorded.duplicates) == (0, 1)
    assert _outcome(database, base) == ("ERROR", "twilio_21211", None, False, 7)
    assert _counters(database, campaign_id) == (0, 1)


def test_a_delivered_receipt_for_a_message_twilio_took_without_answering_in_time_makes_it_sent(database):
    campaign_id, base = _ids()
    recording.record(database, [DeliveryEvent(base, campaign_id, 7, "ERROR", "twilio_no_answer", "No answer")])

    recording.record(database, [_delivered(base, campaign_id)])

    assert _outcome(database, base) == ("DELIVERED", None, "DELIVERED", True, 7)
    assert _counters(database, campaign_id) == (1, 0)


def test_the_senders_event_and_a_receipt_in_one_batch_count_the_message_once(database):
    campaign_id, base = _ids()
    recorded = recording.record(database, [_undelivered(base, campaign_id), _sent(base, campaign_id),
                                           _delivered(base + 1, campaign_id), _sent(base + 1, campaign_id)])

    assert (recorded.counted, recorded.receipts) == (2, 2)
    assert _outcome(database, base) == ("ERROR", "twilio_30003", "ERROR", True, 7)
    assert _outcome(database, base + 1) == ("DELIVERED", None, "DELIVERED", True, 7)
    assert _counters(database, campaign_id) == (1, 1)


def test_receipts_racing_the_senders_events_on_two_consumers_leave_exact_counters(database):
    campaign_id, base = _ids()
    count = 200
    sent = [_sent(base + n, campaign_id) for n in range(count)]
    receipts = [_undelivered(base + n, campaign_id) if n % 2 else _delivered(base + n, campaign_id)
                for n in range(count)]
    failures: list[BaseException] = []

    def run(events: list[DeliveryEvent]) -> None:
        try:
            for start in range(0, count, 20):
                recording.record(database, events[start:start + 20])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    # One consumer goes through the messages upwards, the other downwards: their batches overlap in every order.
    threads = [threading.Thread(target=run, args=(sent,)), threading.Thread(target=run, args=(receipts[::-1],))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert _counters(database, campaign_id) == (count // 2, count // 2)
    with database.session() as session:
        statuses = dict(session.execute(text(
            "SELECT status, count(*) FROM message_outcomes WHERE campaign_id = :c AND receipt IS NOT NULL "
            "GROUP BY status"), {"c": campaign_id}).all())
    assert statuses == {"DELIVERED": count // 2, "ERROR": count // 2}


def test_a_receipt_must_say_delivered_or_error_and_a_senders_event_sent_or_error():
    def delivery(body: str) -> Delivery:
        return Delivery(delivery_tag=1, message_id="m", redelivered=False, body=body.encode(), headers={})

    good = [delivery('{"kind": "receipt", "recipient_id": 1, "campaign_id": 2, "job_id": 0, "status": "DELIVERED"}')]
    bad = [delivery('{"kind": "receipt", "recipient_id": 1, "campaign_id": 2, "job_id": 0, "status": "SENT"}'),
           delivery('{"kind": "delivery", "recipient_id": 1, "campaign_id": 2, "job_id": 3, "status": "DELIVERED"}'),
           delivery('{"kind": "rumour", "recipient_id": 1, "campaign_id": 2, "job_id": 3, "status": "SENT"}')]

    events, malformed = decode(good + bad)

    assert [(e.kind, e.status) for e in events] == [("receipt", "DELIVERED")]
    assert malformed == bad

"""A sender's batch of delivery events travels as one queue message per campaign job (postman_shared.messages)."""

from __future__ import annotations

import json

import pytest

from postman_shared.delivery_events import delivery_event_messages
from postman_shared.messages import DeliveryEvent, JobRendered, event_batch_bodies, inner_events, parse_event


def events() -> list[DeliveryEvent]:
    return [DeliveryEvent(101, 7, 70, "SENT"), DeliveryEvent(205, 9, 90, "ERROR", "smtp_550", "User unknown"),
            DeliveryEvent(102, 7, 70, "UNSUBSCRIBED", "sms_stop", "replied STOP"), DeliveryEvent(103, 7, 70, "SENT")]


def test_a_batch_is_one_message_per_campaign_job_holding_its_events_in_order():
    messages = delivery_event_messages(events())

    assert [m.routing_key for m in messages] == ["delivery.events", "delivery.events"]
    first, second = (json.loads(m.encoded()) for m in messages)
    assert (first["campaign_id"], first["job_id"]) == (7, 70)
    assert [e["recipient_id"] for e in first["events"]] == [101, 102, 103]
    assert (second["campaign_id"], second["job_id"], len(second["events"])) == (9, 90, 1)


def test_every_event_comes_back_exactly_as_it_was_sent():
    decoded = [parse_event(d) for _, body in event_batch_bodies(events())
               for d in inner_events(json.loads(json.dumps(body)))]

    assert sorted(decoded, key=lambda e: e.recipient_id) == sorted(events(), key=lambda e: e.recipient_id)


def test_the_same_batch_gets_the_same_ids_and_another_batch_other_ids():
    again = [message_id for message_id, _ in event_batch_bodies(events())]

    assert again == [message_id for message_id, _ in event_batch_bodies(events())]
    assert len(set(again)) == 2
    others = [message_id for message_id, _ in event_batch_bodies([DeliveryEvent(104, 7, 70, "SENT")])]
    assert not set(others) & set(again)


def test_a_single_event_message_of_the_previous_release_is_still_read():
    single = DeliveryEvent(101, 7, 70, "SENT").to_dict()
    rendered = JobRendered(70, 7, 3).to_dict()

    assert inner_events(single) == [single]
    assert inner_events(rendered) == [rendered]


@pytest.mark.parametrize("body", [{"kind": "events"}, {"kind": "events", "events": {"a": 1}},
                                  {"kind": "events", "events": [1, 2]}])
def test_a_batch_whose_events_are_not_a_list_of_objects_is_malformed(body):
    with pytest.raises(TypeError):
        inner_events(body)

"""Rendered messages travel RENDERED_PER_MESSAGE to a queue message (postman_shared.broker.batches)."""

from __future__ import annotations

import json

import pytest

from postman_shared.broker.batches import (
    COUNT_HEADER,
    batched,
    decode_each,
    message_count,
    rendered_prefetch,
    unbatched,
)
from postman_shared.broker.consumer import Delivery
from postman_shared.broker.publisher import OutgoingMessage
from postman_shared.messages import RenderedSms


def sms(recipient_id: int, job_id: int = 9) -> OutgoingMessage:
    message = RenderedSms(recipient_id=recipient_id, campaign_id=3, job_id=job_id, user_id=1, to="+6591234567",
                          body=f"Hello {recipient_id}", credential_id=5)
    return OutgoingMessage("sms.send", message.to_dict(), message.message_id)


def delivery(message: OutgoingMessage, tag: int = 1) -> Delivery:
    return Delivery(delivery_tag=tag, message_id=message.message_id, redelivered=False, body=message.encoded(),
                    headers=dict(message.headers))


def test_messages_are_carried_in_batches_of_at_most_the_size_with_their_count_and_ids():
    out = batched([sms(n) for n in range(1, 121)], 50)

    assert [m.headers[COUNT_HEADER] for m in out] == [50, 50, 20]
    assert [m.message_id for m in out] == ["batch-1-50", "batch-51-50", "batch-101-20"]
    first = json.loads(out[0].encoded())
    assert (first["kind"], first["campaign_id"], first["job_id"]) == ("batch", 3, 9)
    assert [m["recipient_id"] for m in first["messages"]] == list(range(1, 51))


def test_a_batch_holds_one_queue_and_job_and_a_lone_message_stays_single():
    other_queue = OutgoingMessage("telegram.send", sms(4).body, "4")
    out = batched([sms(1), sms(2), other_queue, sms(3, job_id=10)], 50)

    assert [m.routing_key for m in out] == ["sms.send", "telegram.send", "sms.send"]
    assert out[1].message_id == "4" and COUNT_HEADER not in out[1].headers  # a single message, as before
    job_of_mixed = batched([sms(1), sms(2, job_id=10)], 50)
    assert len(job_of_mixed) == 1 and "job_id" not in job_of_mixed[0].body  # no correlation id it would misstate


def test_every_message_comes_back_from_its_batch_as_it_went_in():
    messages = [sms(n) for n in range(1, 8)]
    decoded, malformed = decode_each([delivery(m, tag) for tag, m in enumerate(batched(messages, 3))],
                                     RenderedSms.from_dict, "rendered sms")

    assert malformed == []
    assert [m.to_dict() for _, m in decoded] == [m.body for m in messages]


def test_a_batch_with_a_malformed_message_hands_on_the_others_and_is_returned_for_dead_lettering():
    [carrier] = batched([sms(1), sms(2), sms(3)], 50)
    carrier.body["messages"][1] = {"recipient_id": "two"}  # type: ignore[index]
    garbage = Delivery(delivery_tag=2, message_id="x", redelivered=False, body=b"not json", headers={})

    decoded, malformed = decode_each([delivery(carrier), garbage], RenderedSms.from_dict, "rendered sms")

    assert [m.recipient_id for _, m in decoded] == [1, 3]
    assert [d.message_id for d in malformed] == ["batch-1-3", "x"]


@pytest.mark.parametrize("body", [{"kind": "batch"}, {"kind": "batch", "messages": []},
                                  {"kind": "batch", "messages": ["a"]}])
def test_a_batch_without_a_list_of_messages_is_malformed(body):
    with pytest.raises(TypeError):
        unbatched(body)


def test_the_count_header_is_trusted_only_as_a_positive_integer():
    assert message_count({COUNT_HEADER: 50}) == 50
    assert message_count({}) == 1
    assert [message_count({COUNT_HEADER: bad}) for bad in (0, -3, "50", True, None)] == [1, 1, 1, 1, 1]


def test_the_prefetch_holds_about_sender_prefetch_messages_in_full_batches():
    assert rendered_prefetch(1000, 50) == 20
    assert rendered_prefetch(1000, 1) == 1000
    assert rendered_prefetch(10, 50) == 2


def test_a_sender_delivers_records_and_announces_its_batch_size_at_a_time_whatever_a_delivery_carries():
    """SENDER_BATCH_SIZE stays the sender's unit of recording: a stop or a halt decided on what stats has heard of
    must not wait for a whole rendered batch (an end-to-end halt test saw 300 messages out before the first
    outcome was recorded)."""
    from postman_sender_sms import consumer

    delivered: list[list[int]] = []
    handle = consumer.handler(lambda part: delivered.append([m.recipient_id for m in part]), chunk=20)
    [carrier] = batched([sms(n) for n in range(1, 51)], 50)

    assert handle([delivery(carrier)]) == []
    assert delivered == [list(range(1, 21)), list(range(21, 41)), list(range(41, 51))]


def test_chunks_are_consecutive_parts_of_at_most_the_size():
    from postman_shared.broker.batches import chunks

    assert chunks([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert chunks([1, 2, 3], 0) == [[1, 2, 3]]
    assert chunks([], 5) == []

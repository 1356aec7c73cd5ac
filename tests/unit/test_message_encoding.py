"""The queue messages' encoding (``to_dict``) and the publisher's confirm bookkeeping: both are on the per-message
hot path, so they are written for speed, and must still say exactly what they said before."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from types import SimpleNamespace

import pytest
from pika.spec import Basic

from postman_shared.broker.consumer import Delivery
from postman_shared.broker.publisher import OutgoingMessage, Publisher, _Batch
from postman_shared.messages import DeliveryEvent, JobRendered, RenderedEmail, RenderedSms, RenderedTelegram, SendJob

MESSAGES = [
    SendJob(job_id=7, campaign_id=3, user_id=2),
    RenderedEmail(recipient_id=11, campaign_id=3, job_id=7, to="a@example.gov.sg", sender="Agency <n@x.gov.sg>",
                  reply_to=None, subject="Hello", body="<p>Hi</p>", retry=True, user_id=2),
    RenderedSms(recipient_id=11, campaign_id=3, job_id=7, user_id=2, to="+6581234567", body="Hi", credential_id=5),
    RenderedTelegram(recipient_id=11, campaign_id=3, job_id=7, user_id=2, to="+6581234567", body="Hi",
                     credential_id=5, rate=10),
    DeliveryEvent(recipient_id=11, campaign_id=3, job_id=7, status="ERROR", error_code="smtp_550", reason="no"),
    JobRendered(job_id=7, campaign_id=3, total=100),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_a_message_encodes_every_field_in_declared_order_as_asdict_did(message):
    encoded = message.to_dict()
    assert list(encoded) == [f.name for f in fields(message)]
    assert json.dumps(encoded) == json.dumps(asdict(message))  # the same bytes on the wire


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_the_wire_bytes_are_the_compact_utf8_json_the_json_module_wrote(message):
    """orjson encodes the queue messages; a consumer of the previous release (json) reads the same bytes."""
    body = {**message.to_dict(), "note": "你好 \"quoted\" \u2028 </script>", "counts": {3: 1, "x": [1.5, None, True]}}
    expected = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    assert OutgoingMessage("q", body, "id").encoded() == expected
    delivery = Delivery(delivery_tag=1, message_id="id", redelivered=False, body=expected, headers={})
    assert delivery.json() == json.loads(expected)


def test_a_body_that_is_not_strict_json_is_a_value_error():
    for body in (b"not json", b"\xff\xfe", b"{\"a\": NaN}"):
        with pytest.raises(ValueError):
            Delivery(delivery_tag=1, message_id="id", redelivered=False, body=body, headers={}).json()


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_the_encoded_dict_is_a_copy(message):
    encoded = message.to_dict()
    encoded["campaign_id"] = -1
    assert message.campaign_id == 3 and message.to_dict()["campaign_id"] == 3


def _confirm(publisher: Publisher, tag: int, multiple: bool, nack: bool = False) -> None:
    method = Basic.Nack(delivery_tag=tag, multiple=multiple) if nack else Basic.Ack(delivery_tag=tag,
                                                                                      multiple=multiple)
    publisher._on_confirm(SimpleNamespace(method=method))


def test_a_multiple_confirm_settles_exactly_the_tags_up_to_its_own():
    publisher = Publisher("amqp://guest:guest@127.0.0.1:5672/%2F", "test")
    first, second = _Batch(3), _Batch(2)
    for tag, batch in [(1, first), (2, first), (3, first), (4, second), (5, second)]:
        publisher._pending[tag] = (batch, str(tag))
    _confirm(publisher, 2, multiple=True)
    assert list(publisher._pending) == [3, 4, 5] and first.remaining == 1 and not first.done.is_set()
    _confirm(publisher, 4, multiple=True)
    assert list(publisher._pending) == [5] and first.done.is_set() and second.remaining == 1
    _confirm(publisher, 5, multiple=False, nack=True)
    assert not publisher._pending and second.error == "broker nacked a message"

"""A RenderedSms may carry its campaign's send rate; messages published before the field existed still decode."""

from __future__ import annotations

import pytest

from postman_shared.messages import RenderedSms

OLD_MESSAGE = {"recipient_id": 7, "campaign_id": 3, "job_id": 4, "user_id": 5, "to": "+6591234567", "body": "Hi",
               "credential_id": 9}


def test_a_message_without_a_rate_decodes_with_none_meaning_the_senders_default():
    assert RenderedSms.from_dict(OLD_MESSAGE).rate is None


def test_the_rate_survives_encoding_and_decoding():
    message = RenderedSms.from_dict({**OLD_MESSAGE, "rate": 20})
    assert RenderedSms.from_dict(message.to_dict()) == message
    assert message.rate == 20


@pytest.mark.parametrize("rate", [0, -5, True])
def test_a_rate_below_one_message_per_second_is_malformed(rate):
    with pytest.raises(ValueError, match="rate must be a whole number"):
        RenderedSms.from_dict({**OLD_MESSAGE, "rate": rate})

"""VERP return paths: each campaign message's own bounce address, signed so a report cannot be forged."""

from __future__ import annotations

import pytest

from postman_sender_email.return_path import address_for, message_id_of

BOUNCES = "bounce@bounces.agency.gov.sg"
KEY = "a-callback-signing-key"


@pytest.mark.parametrize("message_id", ["123", "123.45"])
def test_a_return_path_names_its_message_and_reads_back(message_id):
    address = address_for(BOUNCES, message_id, KEY)
    assert address.startswith(f"bounce+{message_id}-") and address.endswith("@bounces.agency.gov.sg")
    assert len(address.partition("@")[0]) <= 64
    assert message_id_of(address, BOUNCES, KEY) == message_id
    assert message_id_of(f"<{address.upper()}>", BOUNCES, KEY) == message_id  # as a header may carry it


def test_a_forged_or_foreign_return_path_names_nothing():
    address = address_for(BOUNCES, "123", KEY)
    other_message = address.replace("bounce+123-", "bounce+124-")
    assert message_id_of(other_message, BOUNCES, KEY) is None
    assert message_id_of(address, BOUNCES, "another-key") is None
    assert message_id_of(address.replace("bounces.agency", "elsewhere"), BOUNCES, KEY) is None
    assert message_id_of(address.replace("bounce+", "reply+"), BOUNCES, KEY) is None
    assert message_id_of("bounce@bounces.agency.gov.sg", BOUNCES, KEY) is None
    assert message_id_of("bounce+123-" + "g" * 12 + "@bounces.agency.gov.sg", BOUNCES, KEY) is None

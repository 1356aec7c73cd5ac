"""Signed provider callback URLs: a URL we made is accepted; a changed id, signature or key is not."""

from __future__ import annotations

import re

import pytest

from postman_shared.callbacks import sms_status_path, verify_sms_status

KEY = "callback-signing-key-for-tests"


def _parts(path: str) -> list[str]:
    return path.strip("/").split("/")


def test_a_campaign_sms_status_path_names_the_kind_the_ids_and_ends_with_a_url_safe_signature():
    path = sms_status_path(12, 3456, 78, KEY)

    *prefix, campaign_id, recipient_id, credential_id, sig = _parts(path)
    assert prefix == ["callbacks", "twilio", "sms", "c"]
    assert (campaign_id, recipient_id, credential_id) == ("12", "3456", "78")
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", sig)
    assert verify_sms_status(12, 3456, 78, sig, KEY)


def test_the_path_is_the_same_every_time_and_differs_per_message():
    assert sms_status_path(1, 2, 3, KEY) == sms_status_path(1, 2, 3, KEY)
    signatures = {_parts(sms_status_path(*ids, KEY))[-1] for ids in [(1, 2, 3), (1, 3, 3), (2, 2, 3), (1, 2, 4)]}
    assert len(signatures) == 4


@pytest.mark.parametrize("ids", [(13, 3456, 78), (12, 3457, 78), (12, 3456, 79), (3456, 12, 78)],
                         ids=["campaign", "recipient", "credential", "swapped"])
def test_a_signature_moved_to_other_ids_is_refused(ids):
    sig = _parts(sms_status_path(12, 3456, 78, KEY))[-1]
    assert not verify_sms_status(*ids, sig, KEY)


def test_a_tampered_or_truncated_signature_or_another_key_is_refused():
    sig = _parts(sms_status_path(12, 3456, 78, KEY))[-1]
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    for forged in (flipped, sig[:-1], sig + "A", "", "é" * len(sig)):
        assert not verify_sms_status(12, 3456, 78, forged, KEY), forged
    assert not verify_sms_status(12, 3456, 78, sig, KEY + "-rotated")


def test_an_empty_key_or_an_id_that_is_not_a_whole_number_is_an_error_not_an_unsigned_url():
    with pytest.raises(ValueError, match="CALLBACK_SIGNING_KEY"):
        sms_status_path(1, 2, 3, "")
    with pytest.raises(ValueError, match="recipient_id"):
        sms_status_path(1, -2, 3, KEY)
    with pytest.raises(ValueError, match="campaign_id"):
        verify_sms_status(True, 2, 3, "x", KEY)  # type: ignore[arg-type]

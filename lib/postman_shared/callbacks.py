"""The URLs we give a provider to call us back, signed so that only a URL we made is accepted.

Twilio reports what became of an SMS (its status callback) by POSTing to the URL passed with the message. That URL
names the message, and an HMAC of those ids under a key derived from ``CALLBACK_SIGNING_KEY``
(``keys.TWILIO_STATUS_URL``) ends it: anyone can reach the gateway, but nobody without the key can make a URL that
speaks about a message, nor move a valid URL to another message.

A path is ``/callbacks/twilio/sms/<kind>/<ids...>/<sig>``. The ``kind`` segment says what the ids are, so another
kind of message (transactional SMS, later: ``t``) gets its own URLs without changing the ones of campaign messages
(``c``: campaign, recipient, credential). The signed text names the kind's purpose and ids; the ids are numbers, so
the texts of two kinds never coincide.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from postman_shared.keys import TWILIO_STATUS_URL, purpose_key

SMS_STATUS_ROOT = "/callbacks/twilio/sms"
CAMPAIGN_MESSAGE = "c"  # the kind of a campaign message's callback: /c/<campaign_id>/<recipient_id>/<credential_id>
TRANSACTIONAL_MESSAGE = "t"  # the kind of a transactional SMS's callback: /t/<sms_id>/<credential_id>
SIGNATURE_CHARS = 32  # of the 43 characters of the whole HMAC-SHA256 in url-safe base64: 192 bits


def sms_status_path(campaign_id: int, recipient_id: int, credential_id: int, key: str) -> str:
    """The path (to append to ``PUBLIC_URL``) at which Twilio reports the status of a campaign's SMS."""
    sig = _signature(key, _campaign_text(campaign_id, recipient_id, credential_id))
    return f"{SMS_STATUS_ROOT}/{CAMPAIGN_MESSAGE}/{campaign_id}/{recipient_id}/{credential_id}/{sig}"


def verify_sms_status(campaign_id: int, recipient_id: int, credential_id: int, sig: str, key: str) -> bool:
    """Whether ``sig`` is the signature of a campaign message's status path with these ids (constant time)."""
    expected = _signature(key, _campaign_text(campaign_id, recipient_id, credential_id))
    return hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace"))


def transactional_sms_status_path(sms_id: int, credential_id: int, key: str) -> str:
    """The path (to append to ``PUBLIC_URL``) at which Twilio reports the status of a transactional SMS."""
    sig = _signature(key, _transactional_text(sms_id, credential_id))
    return f"{SMS_STATUS_ROOT}/{TRANSACTIONAL_MESSAGE}/{sms_id}/{credential_id}/{sig}"


def verify_transactional_sms_status(sms_id: int, credential_id: int, sig: str, key: str) -> bool:
    """Whether ``sig`` is the signature of a transactional SMS's status path with these ids (constant time)."""
    expected = _signature(key, _transactional_text(sms_id, credential_id))
    return hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace"))


def _transactional_text(sms_id: int, credential_id: int) -> str:
    for name, value in (("sms_id", sms_id), ("credential_id", credential_id)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number, not {value!r}")
    return f"sms-status-t:{sms_id}:{credential_id}"


def _campaign_text(campaign_id: int, recipient_id: int, credential_id: int) -> str:
    for name, value in (("campaign_id", campaign_id), ("recipient_id", recipient_id),
                        ("credential_id", credential_id)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number, not {value!r}")
    return f"sms-status:{campaign_id}:{recipient_id}:{credential_id}"


def _signature(key: str, text: str) -> str:
    if not key:
        raise ValueError("CALLBACK_SIGNING_KEY is empty: callback URLs cannot be signed")
    digest = hmac.new(purpose_key(key, TWILIO_STATUS_URL), text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()[:SIGNATURE_CHARS]

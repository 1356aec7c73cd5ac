"""VERP return paths: with SMTP there is no event feed, so each campaign message gets its own envelope sender,
``bounce+<message id>-<signature>@bounces.agency.gov.sg`` (``BOUNCE_ADDRESS`` with the message's delivery id and a
signature added after a '+'). A bounce (RFC 3464) or complaint report (RFC 5965) that comes back to it names the
message without anyone having to parse the original, and the bounce-mailbox reader
(``bounce_mailbox.py``) turns it into the same events SES publishes.

The signature (an HMAC of the message id under the return-path key derived from ``CALLBACK_SIGNING_KEY``, 12 hex
digits) means a report about a message id Postman did not send to that address cannot be forged by mailing the bounce
mailbox: without it anyone could suppress any address or halt any campaign. It binds the id only: the recipient, who
sees their own return path, can at most report their own message.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from postman_shared.keys import VERP_RETURN_PATH, purpose_key

SIGNATURE_LENGTH = 12
# The delivery id of a campaign message: "<recipient id>" or "<recipient id>.<job id>" (a retry's).
_TOKEN = re.compile(r"(?P<id>[0-9]{1,19}(?:\.[0-9]{1,19})?)-(?P<signature>[0-9a-f]{12})")


def _signature(message_id: str, key: str) -> str:
    return hmac.new(purpose_key(key, VERP_RETURN_PATH), f"verp:{message_id}".encode(),
                    hashlib.sha256).hexdigest()[:SIGNATURE_LENGTH]


def address_for(bounce_address: str, message_id: str, key: str) -> str:
    """The return path of one message: ``local+<id>-<signature>@domain``."""
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{message_id}-{_signature(message_id, key)}@{domain}"


def message_id_of(address: str, bounce_address: str, key: str) -> str | None:
    """The delivery id a return path names when it is one of ours with a good signature; None otherwise."""
    address = address.strip().strip("<>").strip()
    local, at, domain = address.rpartition("@")
    base_local, _, base_domain = bounce_address.rpartition("@")
    if not at or domain.lower() != base_domain.lower():
        return None
    head, plus, token = local.partition("+")
    if not plus or head.lower() != base_local.lower():
        return None
    match = _TOKEN.fullmatch(token.lower())
    if match is None or not hmac.compare_digest(match["signature"], _signature(match["id"], key)):
        return None
    return match["id"]

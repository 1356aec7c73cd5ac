"""What a test API key's messages get instead of a provider: a simulated outcome, decided by the recipient.

A test key (``test_v1_...``) goes through every validation and the whole pipeline (queues, rendering, send rates,
outcomes, stats, export); only the last step, the call to SMTP/SES, Twilio or Telegram, is replaced by this table.
Nothing a test key does ever reaches a provider. The documented recipients below produce a failure, so an
integration can test how it handles one; every other recipient is SENT.
"""

from __future__ import annotations

import uuid

from postman_shared.delivery_log import Outcome

SIMULATED_EMAIL_ERRORS: dict[str, tuple[str, str]] = {
    "bounce@simulator.postman.gov.sg": ("simulated_bounce", "Simulated: the recipient's mail server rejected it"),
    "complaint@simulator.postman.gov.sg": ("simulated_complaint", "Simulated: the recipient marked it as spam"),
    "failure@simulator.postman.gov.sg": ("simulated_failure", "Simulated: the provider could not take it"),
}
SIMULATED_PHONE_ERRORS: dict[str, tuple[str, str]] = {
    "+6590000001": ("simulated_undelivered", "Simulated: the carrier could not deliver the message"),
    "+6590000002": ("simulated_invalid_number", "Simulated: the provider refused the number"),
}


def simulated_outcome(message_id: str, recipient: str) -> Outcome:
    """SENT with a made-up provider id, or the documented ERROR of a simulator recipient."""
    error = SIMULATED_EMAIL_ERRORS.get(recipient.strip().lower()) or SIMULATED_PHONE_ERRORS.get(recipient.strip())
    if error is not None:
        return Outcome.error(message_id, *error)
    return Outcome.sent(message_id, f"simulated-{uuid.uuid4().hex}")

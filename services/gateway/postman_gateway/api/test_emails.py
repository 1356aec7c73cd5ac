"""A campaign's test email (``POST …/email/credentials`` and the review page's "Send a test email"), asked the same
way from the API and the pages.

A test email goes to any address the caller types, from the platform's own domain, so it is a send like any other:
it counts against the user's send limit, and against ``TEST_EMAILS_PER_CAMPAIGN_PER_DAY`` for the campaign (429
past either, with ``Retry-After``). Asked with a test API key it is simulated (``simulated``: no provider is
called), as every other send of a test key is. The campaign service queues it on ``email.test``, never on the
one-time passwords' queue.
"""

from __future__ import annotations

from postman.v1 import campaign_pb2
from postman_gateway.core import limiting
from postman_gateway.core.auth import current_caller
from postman_gateway.core.backends import backends
from postman_shared.grpc import client
from postman_shared.logging import get_logger

log = get_logger(component="test-emails")


def send_test_email(campaign: campaign_pb2.CampaignRef, recipient: str) -> str:
    """Queues the test email of ``campaign`` to ``recipient`` once the limits allow it; returns its message id."""
    caller = current_caller()
    limiting.check_test_email_limits(caller.user_id, caller.rate_limit, campaign.campaign_id)
    result = client.call(backends().campaign.SendTestEmail, campaign_pb2.SendTestEmailRequest(
        campaign_id=campaign.campaign_id, user_id=campaign.user_id, recipient=recipient, simulated=caller.test))
    log.info("test email asked", campaign_id=campaign.campaign_id, message_id=result.message_id,
             simulated=caller.test)
    return result.message_id

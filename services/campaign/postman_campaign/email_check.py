"""The test email of ``POST …/email/credentials``: the campaign's template, rendered with its first valid recipient
(or with empty values when there is no list yet), sent to one address the user gives.

It is the email as the recipients get it, in the theme of the owner's agency with its plain-text part (its
unsubscribe link is a stand-in: the test goes to the officer, not to a recipient). It goes out as a
``PriorityEmail`` on ``email.test`` (written to the outbox in a transaction, published after the commit): a queue
of its own, never the one-time passwords' ``email.priority``, so no one asking for many test emails can delay anyone's
sign-in; nor does it wait behind a running campaign, and it is not part of any campaign's statistics. Asked with a
test API key, or for a campaign a test key created, it is ``simulated``: sender-email records a simulated outcome
and calls no provider. How many may be asked for is the gateway's to limit (the user's send limit and
``TEST_EMAILS_PER_CAMPAIGN_PER_DAY``). Email campaigns always send with the platform's own transport, so there is
no credential to attach: the test only shows the sender what the recipients will get.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from postman_campaign import models
from postman_campaign.campaigns import ensure_channel, owned_campaign
from postman_campaign.models import EmailTemplate
from postman_campaign.previews import EmailPreview, PreviewSource, preview_source, render, template_of
from postman_campaign.renderer_client import Renderer
from postman_campaign.sender_check import SenderCheck
from postman_shared import outbox
from postman_shared.broker.topology import EMAIL_TEST
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument
from postman_shared.logging import get_logger
from postman_shared.messages import PriorityEmail
from postman_shared.validators import is_valid_email

log = get_logger(component="email-check")


def send_test_email(database: Database, renderer: Renderer, after_commit: Callable[[], object], campaign_id: int,
                    user_id: int, recipient: str, default_from: str, senders: SenderCheck | None = None,
                    simulated: bool = False) -> str:
    """Queues the test email to ``recipient``; returns its message id. The owner is checked before the address; the
    From must be one the user may send from (``sender_check``), as for the campaign itself. ``simulated`` (a test
    API key asked) or a test key's campaign: no provider is called."""
    lookup = senders.prefetch(database, campaign_id, user_id) if senders is not None else None
    with database.unit_of_work() as session:  # not session(): its rollback would expire what is returned
        campaign = owned_campaign(session, campaign_id, user_id)
        ensure_channel(campaign, "EMAIL")
        address = recipient.strip().lower()
        if not address:
            raise InvalidArgument("recipient is required: the email address to send the test email to",
                                  code=ErrorCode.INVALID_RECIPIENT)
        if not is_valid_email(address):
            raise InvalidArgument(f"recipient {recipient.strip()!r} is not a valid email address",
                                  code=ErrorCode.INVALID_RECIPIENT)
        template = template_of(session, campaign)
        if not isinstance(template, EmailTemplate):
            raise InvalidArgument("The campaign has no template yet; save a template, then send the test email")
        sender = senders.header(template.from_address or "", lookup) if senders is not None and lookup is not None \
            else template.from_address or default_from
        source = preview_source(session, campaign) or PreviewSource(template=template, params={"recipient": address},
                                                                    user_id=campaign.user_id)
        simulated = simulated or bool(campaign.test)
    rendered = render(renderer, source)  # outside the transaction: a network call
    assert isinstance(rendered, EmailPreview)
    email = PriorityEmail(message_id=f"test-{campaign_id}-{uuid.uuid4().hex}", to=address,
                          sender=sender, subject=rendered.subject,
                          body=rendered.themed_body or rendered.body, reply_to=rendered.reply_to,
                          text=rendered.text or None, simulated=simulated)
    with database.unit_of_work() as session:
        outbox.write(session, models.outbox, EMAIL_TEST, email.message_id, email.to_dict())
    log.info("test email queued", campaign_id=campaign_id, message_id=email.message_id, simulated=simulated)
    try:
        after_commit()
    except Exception as exc:  # noqa: BLE001 - committed; the periodic relay publishes it later
        log.warning("outbox flush after the test email failed, the relay will retry", error=str(exc))
    return email.message_id

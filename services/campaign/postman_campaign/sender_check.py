"""The From of an email campaign, checked again each time its email is about to leave (issue 12): at send, at a
retry, at the release of a scheduled send and for a test email, not only when the template was saved. So a draft
saved before the rule existed, or one whose address was removed from Settings > Sender addresses since, cannot go
out with that From; the refusal is ``invalid_from_address`` and names the rule (``postman_shared.sender_rule``).

A From that is allowed is written back as it will be sent (``Agency <default>`` becomes ``Agency via Postman
<default>``), in the transaction that sends, so the renderer puts on every message exactly what was checked.

The verified addresses come from auth (``GetVerifiedSenders``), asked only when the From is not the default address,
and before the sending transaction opens (``prefetch``), so no database lock waits on the network.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from sqlalchemy import select

from postman_campaign.models import Campaign, EmailTemplate
from postman_shared import sender_rule
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, ServiceError
from postman_shared.sender_client import VerifiedSenders, lookup_for

Lookup = Callable[[], Collection[str]]


def _nothing() -> Collection[str]:
    return ()


@dataclass(frozen=True)
class SenderCheck:
    default_from: str
    senders: VerifiedSenders | None = None  # None: nobody has verified addresses (only the default is allowed)

    def lookup(self, user_id: int) -> Lookup:
        return lookup_for(self.senders, user_id) if self.senders is not None else _nothing

    def prefetch(self, database: Database, campaign_id: int, user_id: int) -> Lookup:
        """The user's lookup, already asked when the campaign's saved From is not the default address (a short
        read, then the call to auth, both outside any transaction)."""
        lookup = self.lookup(user_id)
        with database.session() as session:
            value = session.scalar(select(EmailTemplate.from_address).join(Campaign, Campaign.id ==
                                                                           EmailTemplate.campaign_id)
                                   .where(EmailTemplate.campaign_id == campaign_id, Campaign.user_id == user_id))
        if value is not None and not sender_rule.is_default_address(value, self.default_from):
            lookup()
        return lookup

    def header(self, value: str, lookup: Lookup) -> str:
        """The From ``value`` is sent with, or ``invalid_from_address`` saying what to change."""
        try:
            return sender_rule.allowed_sender(value, self.default_from, lookup).header
        except ServiceError as exc:
            if exc.code != ErrorCode.INVALID_FROM_ADDRESS:
                raise
            raise ServiceError(ErrorCode.INVALID_FROM_ADDRESS, f"The campaign's From cannot be used: {exc.message}. "
                               "Change the From in the campaign's template, then send it again") from None

    def apply(self, template: EmailTemplate, lookup: Lookup) -> str:
        """Checks the saved From and stores it as it will be sent (in the caller's transaction)."""
        header = self.header(template.from_address or "", lookup)
        if header != template.from_address:
            template.from_address = header
        return header

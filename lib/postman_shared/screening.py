"""What every sender does with a batch of campaign messages after dropping the ones it recorded before, and before
any reaches its provider:

1. A message whose job was stopped (by its owner, or halted) is withheld: not sent, not recorded, not announced, so
   it stays unsent and a retry (the resume) sends it. ``JobStops`` asks campaign at most every half second; the
   senders ask again right before each message they hand over, so a stop takes effect within about a second.
2. A retry's message to a recipient whose earlier message this sender handed over (SENT under another id, whose
   event stats may not have counted yet) is announced as SENT again, and not sent twice.
3. The rest are screened against the suppression list in one call for the batch: a suppressed recipient's message is
   recorded as BLACKLISTED or UNSUBSCRIBED with the reason, and never reaches the provider.

Only what is left is handed to the provider. Failures to reach campaign raise before anything is sent, so the
batch goes back on the queue untouched: a sender never sends what it could not screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timezone
from typing import Generic, Protocol, TypeVar

from postman_shared.db import Database
from postman_shared.delivery_log import DeliveryLog, Outcome
from postman_shared.job_stops import JobStops
from postman_shared.outcomes import SuppressionReason
from postman_shared.suppression_client import SuppressionClient

# What a suppression means, in the words an officer reads in the export and on the campaign page.
REASON_WORDS: dict[str, str] = {
    SuppressionReason.HARD_BOUNCE: "the address bounced permanently before",
    SuppressionReason.COMPLAINT: "the recipient marked an earlier message as spam",
    SuppressionReason.UNSUBSCRIBE: "the recipient unsubscribed from this sender's emails",
    SuppressionReason.SMS_STOP: "the number replied STOP to this sender's messages",
    SuppressionReason.MANUAL: "the recipient was added to the suppression list",
}


class Withheld(Exception):
    """Raised right before a message would be handed over: its job has been stopped."""


class Message(Protocol):
    recipient_id: int
    campaign_id: int
    job_id: int
    user_id: int
    to: str
    retry: bool

    @property
    def message_id(self) -> str: ...


M = TypeVar("M", bound=Message)


@dataclass
class Screen(Generic[M]):
    due: list[M] = field(default_factory=list)  # to hand to the provider
    withheld: list[M] = field(default_factory=list)  # their job was stopped
    suppressed: dict[str, Outcome] = field(default_factory=dict)  # to record and announce like any outcome
    already_sent: dict[str, Outcome] = field(default_factory=dict)  # to announce only (SENT under another id)

    @property
    def not_handed_over(self) -> dict[str, Outcome]:
        """The outcomes of the messages that do not reach the provider: suppressed (recorded and announced) and
        withheld (neither)."""
        return {**self.suppressed, **{m.message_id: Outcome.withheld(m.message_id) for m in self.withheld}}


class BatchScreen:
    def __init__(self, channel: str, stops: JobStops, suppressions: SuppressionClient) -> None:
        self.channel = channel
        self.stops = stops
        self.suppressions = suppressions

    def screen(self, messages: Sequence[M], database: Database, deliveries: DeliveryLog) -> Screen[M]:
        result: Screen[M] = Screen()
        stopped = self.stops.stopped({m.job_id for m in messages})
        live: list[M] = []
        for message in messages:
            (result.withheld if message.job_id in stopped else live).append(message)
        retried = [m.recipient_id for m in live if m.retry]
        if retried:
            with database.session() as session:
                sent_before = deliveries.sent_to(session, retried)
            for message in live:
                if message.retry and message.recipient_id in sent_before:
                    result.already_sent[message.message_id] = Outcome.sent(message.message_id)
            live = [m for m in live if m.message_id not in result.already_sent]
        found = self.suppressions.screen(self.channel, [(m.user_id, m.to) for m in live])
        for message in live:
            hit = found.get((message.user_id, message.to))
            if hit is None:
                result.due.append(message)
                continue
            since = hit.since.ToDatetime(tzinfo=timezone.utc).date().isoformat() if hit.HasField("since") else ""
            words = REASON_WORDS.get(hit.reason, "the recipient is on the suppression list")
            result.suppressed[message.message_id] = Outcome.suppressed(
                message.message_id, hit.outcome, hit.reason,
                f"Not sent: {words}" + (f" (on the suppression list since {since})" if since else ""))
        return result

    def proceed(self, message: Message) -> bool:
        """Right before a message is handed over: False when its job has been stopped since the batch began."""
        return not self.stops.is_stopped(message.job_id)

    def check(self, message: Message) -> None:
        """``proceed`` for senders that pace each message: raises Withheld instead of answering False."""
        if self.stops.is_stopped(message.job_id):
            raise Withheld(message.message_id)

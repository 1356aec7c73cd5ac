"""The ``email.events`` entrypoint: what happened to an email after the provider took it. SES's events come through
SNS (the gateway checked the signature); bounce and complaint reports of SMTP campaign messages come from the
bounce mailbox (``bounce_mailbox.py``, ``delivery_id`` set). Both arrive as ``EmailEvent``s.

- An event about a transactional email moves its status (``transactional.apply_event``).
- An event about a campaign message (found in ``email_deliveries`` by SES's MessageId or by the delivery id of its
  return path, one query per batch) becomes a receipt for stats: Delivery -> DELIVERED, Open -> OPENED, Bounce ->
  BOUNCED (Permanent) or SOFT_BOUNCED (Transient, Undetermined) with the sub-type, Complaint -> COMPLAINT, Reject and
  Rendering Failure -> ERROR (and the delivery row is marked failed, so a retry sends the message again). Stats
  moves the message forward only, so a repeated or late event counts once.
- A hard bounce or a complaint, of either kind of email, puts the address on the global suppression list (one call
  per batch): it is never sent to again, by any agency, until someone lifts it.
- An event that matches no email yet (SES, or a quick bounce, can report a message before this sender has committed
  the batch that sent it) waits in ``email.events.retry`` and is tried again, 1 s, 4 s, 16 s later and then every
  ``EMAIL_RETRY_DELAY_SECONDS``, up to ``EMAIL_MAX_ATTEMPTS`` times; then it is dropped (it may be about a message of
  another system that shares the configuration set).

Applying an event is idempotent, so SNS retrying a notification or the queue redelivering it changes nothing; and
an SNS message whose event was applied once is dropped when it comes again (``sns_replays``): a captured message
posted again cannot re-suppress an address or count again towards halting a campaign.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from postman_sender_email import transactional
from postman_sender_email.delivery import DELIVERIES
from postman_sender_email.metrics import EVENTS
from postman_sender_email.models import EmailDelivery
from postman_sender_email.sns_replays import ReplayMemory
from postman_shared.broker import Delivery, OutgoingMessage, Publisher
from postman_shared.broker.batches import decode_each
from postman_shared.broker.topology import EMAIL_EVENTS_RETRY
from postman_shared.broker.waiting import attempt_of, growing_wait_ms, with_attempt
from postman_shared.db import Database
from postman_shared.delivery_events import delivery_event_messages
from postman_shared.logging import get_logger
from postman_shared.messages import DeliveryEvent, EmailEvent
from postman_shared.outcomes import COMPLAINT, HARD_BOUNCE, SOFT_BOUNCE, MessageStatus, SuppressionReason
from postman_shared.suppression_client import NewSuppression, SuppressionClient

log = get_logger(component="email-events")

# SES event type -> the receipt of a campaign message (Bounce depends on its type). Others (Send, DeliveryDelay,
# Click, Subscription) say nothing stats counts.
RECEIPTS = {"Delivery": MessageStatus.DELIVERED, "Open": MessageStatus.OPENED, "Complaint": MessageStatus.COMPLAINT,
            "Reject": MessageStatus.ERROR, "Rendering Failure": MessageStatus.ERROR}
ERROR_CODES = {"Reject": "ses_reject", "Rendering Failure": "ses_rendering_failure"}


@dataclass(frozen=True)
class CampaignMessage:
    message_id: str  # email_deliveries' id: "<recipient_id>" or "<recipient_id>.<job_id>"
    campaign_id: int
    recipient_id: int


def decode(batch: list[Delivery]) -> tuple[list[tuple[EmailEvent, int]], list[Delivery]]:
    """The well-formed events of a batch with the attempt each is on, and the deliveries that are not well-formed
    (to be dead-lettered)."""
    decoded, malformed = decode_each(batch, EmailEvent.from_dict, "email event", batches=False)
    return [(event, attempt_of(delivery.headers)) for delivery, event in decoded], malformed


def receipt(event: EmailEvent, message: CampaignMessage) -> DeliveryEvent | None:
    """The receipt an event is for stats about a campaign message; None for an event stats does not count."""
    if event.event_type == "Bounce":
        hard = event.bounce_type == "Permanent"
        return DeliveryEvent(
            recipient_id=message.recipient_id, campaign_id=message.campaign_id, job_id=0, kind="receipt",
            status=MessageStatus.BOUNCED if hard else MessageStatus.SOFT_BOUNCED,
            error_code=HARD_BOUNCE if hard else SOFT_BOUNCE, error_sub_type=_short(event.bounce_sub_type),
            reason=event.diagnostic or f"The recipient's mail server bounced the message ({event.bounce_type})")
    status = RECEIPTS.get(event.event_type)
    if status is None:
        return None
    if status == MessageStatus.COMPLAINT:
        return DeliveryEvent(message.recipient_id, message.campaign_id, 0, status, COMPLAINT,
                             "The recipient marked the message as spam", kind="receipt",
                             error_sub_type=_short(event.complaint_type))
    if status == MessageStatus.ERROR:
        return DeliveryEvent(message.recipient_id, message.campaign_id, 0, status, ERROR_CODES[event.event_type],
                             event.diagnostic or f"SES reported {event.event_type} after taking the message",
                             kind="receipt")
    return DeliveryEvent(message.recipient_id, message.campaign_id, 0, status, kind="receipt")


def suppression_of(event: EmailEvent, campaign_id: int, message_id: str, source: str,
                   only: str | None = None) -> list[NewSuppression]:
    """Global suppression entries for a hard bounce or a complaint: every address the event is about (``only``:
    just that one, a transactional email's main recipient)."""
    if event.event_type == "Bounce" and event.bounce_type == "Permanent":
        reason, detail = SuppressionReason.HARD_BOUNCE, " ".join(filter(None, (event.bounce_sub_type,
                                                                               event.diagnostic)))
    elif event.event_type == "Complaint":
        reason, detail = SuppressionReason.COMPLAINT, event.complaint_type or ""
    else:
        return []
    addresses = [only] if only is not None else list(dict.fromkeys(a.strip().lower() for a in event.recipients
                                                                   if a.strip()))
    return [NewSuppression("EMAIL", address, 0, reason, detail[:1000], campaign_id, message_id, source)
            for address in addresses]


class EventHandler:
    """The ``email.events`` batch handler."""

    def __init__(self, database: Database, publisher: Publisher, suppressions: SuppressionClient | None = None,
                 max_attempts: int = 5, retry_delay_seconds: int = 30, replays: ReplayMemory | None = None) -> None:
        self._database = database
        self._publisher = publisher
        self._suppressions = suppressions
        self._max_attempts = max_attempts
        self._retry_delay_ms = retry_delay_seconds * 1000
        self._replays = replays or ReplayMemory(database)

    def __call__(self, batch: list[Delivery]) -> list[Delivery]:
        events, malformed = decode(batch)
        fresh = self._without_replays(events)
        if fresh:
            self.apply(fresh)
            self._replays.remember([e.sns_message_id for e, attempt in fresh if attempt == 1 and e.sns_message_id])
        return malformed

    def _without_replays(self, events: list[tuple[EmailEvent, int]]) -> list[tuple[EmailEvent, int]]:
        """The events whose SNS message was not applied before (nor earlier in this batch); first attempts only:
        a later attempt is this sender's own retry."""
        seen = self._replays.seen({e.sns_message_id for e, attempt in events if attempt == 1 and e.sns_message_id})
        fresh = []
        for event, attempt in events:
            if attempt == 1 and event.sns_message_id:
                if event.sns_message_id in seen:
                    log.warning("replayed sns message dropped: its event was applied already",
                                sns_message_id=event.sns_message_id, event_type=event.event_type)
                    EVENTS.labels(event_type=event.event_type, outcome="replayed").inc()
                    continue
                seen.add(event.sns_message_id)
            fresh.append((event, attempt))
        return fresh

    def apply(self, events: Sequence[tuple[EmailEvent, int]]) -> None:
        campaign_messages = self._campaign_messages([event for event, _ in events])
        receipts: list[DeliveryEvent] = []
        failed: list[str] = []
        suppressions: list[NewSuppression] = []
        waiting: list[OutgoingMessage] = []
        for event, attempt in events:
            message = campaign_messages.get(_key(event))
            if message is not None:
                found = receipt(event, message)
                if found is not None:
                    receipts.append(found)
                    if found.status == MessageStatus.ERROR:
                        failed.append(message.message_id)
                suppressions += suppression_of(event, message.campaign_id, message.message_id,
                                               "smtp-report" if event.delivery_id else "ses")
                EVENTS.labels(event_type=event.event_type, outcome="campaign").inc()
                continue
            applied = transactional.apply_event(self._database, event)
            if applied.matched:
                if applied.recipient is not None and (not event.recipients or applied.recipient in
                                                      {a.strip().lower() for a in event.recipients}):
                    # Adding is idempotent: a redelivered bounce adds nothing, an interrupted one is completed.
                    suppressions += suppression_of(event, 0, event.provider_message_id, "ses", applied.recipient)
                EVENTS.labels(event_type=event.event_type, outcome="applied" if applied.changed else "ignored").inc()
            elif attempt < self._max_attempts:
                waiting.append(with_attempt(OutgoingMessage(EMAIL_EVENTS_RETRY, event.to_dict(), event.message_id),
                                            attempt + 1, self._wait_ms(attempt)))
                EVENTS.labels(event_type=event.event_type, outcome="waiting").inc()
            else:
                log.info("email event matches no email; dropped", event_type=event.event_type, attempts=attempt)
                EVENTS.labels(event_type=event.event_type, outcome="unmatched").inc()
        if failed:
            with self._database.unit_of_work() as session:
                DELIVERIES.mark_failed(session, failed)
        if suppressions and self._suppressions is not None:
            added = self._suppressions.add(suppressions)  # a failure requeues the batch: nothing is lost
            log.info("addresses suppressed after bounces and complaints", added=added, reported=len(suppressions))
        self._publisher.publish(delivery_event_messages(receipts) + waiting)

    def _wait_ms(self, attempt: int) -> int:
        """How long an unmatched event waits after its ``attempt``-th try: 1 s, 4 s, 16 s, then the retry delay."""
        return growing_wait_ms(attempt, self._retry_delay_ms)

    def _campaign_messages(self, events: Sequence[EmailEvent]) -> dict[tuple[str, str], CampaignMessage]:
        """The campaign messages the events name, by (kind of id, id): one query per kind."""
        by_delivery = sorted({e.delivery_id for e in events if e.delivery_id})
        by_provider = sorted({e.provider_message_id for e in events if not e.delivery_id})
        found: dict[tuple[str, str], CampaignMessage] = {}
        columns = (EmailDelivery.message_id, EmailDelivery.campaign_id, EmailDelivery.recipient_id,
                   EmailDelivery.provider_message_id)
        with self._database.session() as session:
            if by_delivery:
                for message_id, campaign_id, recipient_id, _ in session.execute(
                        select(*columns).where(EmailDelivery.message_id.in_(by_delivery))):
                    if campaign_id is not None:
                        found[("delivery", message_id)] = CampaignMessage(
                            message_id, campaign_id, recipient_id or _recipient_of(message_id))
            if by_provider:
                for message_id, campaign_id, recipient_id, provider_id in session.execute(
                        select(*columns).where(EmailDelivery.provider_message_id.in_(by_provider),
                                               EmailDelivery.campaign_id.is_not(None))):
                    found[("provider", provider_id)] = CampaignMessage(
                        message_id, campaign_id, recipient_id or _recipient_of(message_id))
        return found


def _key(event: EmailEvent) -> tuple[str, str]:
    return ("delivery", event.delivery_id) if event.delivery_id else ("provider", event.provider_message_id)


def _recipient_of(message_id: str) -> int:
    """A campaign message's recipient from its id ("<recipient_id>" or "<recipient_id>.<job_id>"), for rows recorded
    before ``recipient_id`` was kept."""
    return int(message_id.partition(".")[0])


def _short(value: str | None) -> str | None:
    return value[:64] if value else None

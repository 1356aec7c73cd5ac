"""How every sender delivers a batch of campaign messages: at least once, and recorded exactly once.

1. A message twice in the batch counts once. One query finds the messages whose outcome is already in the sender's
   delivery log (a redelivery after a crash, or a duplicate publish): they are not sent again, but their recorded
   outcome is announced again, because the crash may have happened between the commit and the publish (stats
   ignores a duplicate event).
2. The rest are screened (``postman_shared.screening``): messages of a stopped job are withheld (left unsent), a
   retry's message to a recipient sent before is announced as sent, and a suppressed recipient's message is
   recorded BLACKLISTED or UNSUBSCRIBED without reaching the provider.
3. What is left goes to the channel's provider (``ProviderAdapter.send``), which asks again right before each
   message whether its job has been stopped since (withheld if it has). A failure to reach campaign raises before
   anything is sent, so the whole batch is requeued untouched.
4. Each outcome is settled (``ProviderAdapter.settle``): final, or not yet (email's passing failure with attempts
   left). A message without a final outcome (its wait cut short by the service stopping, Telegram's throttling, a
   passing failure) is neither recorded nor announced: it is published again (``ProviderAdapter.put_back``).
5. Every final outcome is inserted in one multi-row statement and committed, tried again while the database is
   unreachable (``wait``: the consumer's pause), since failing would send those messages again.
6. Only then are the DeliveryEvents and the messages put back published, with one confirm wait for the batch.
   When ``deliver_batch`` returns, the batch may be acked.

A channel is its ``ProviderAdapter``: its delivery log, its provider call and, where channels really differ, the
hooks it overrides (email: its retry policy, its metrics and log line; SMS: numbers that replied STOP).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from prometheus_client import Counter

from postman_shared.broker import Delivery, OutgoingMessage, Publisher
from postman_shared.broker.batches import chunks, decode_each
from postman_shared.broker.waiting import attempt_of
from postman_shared.db import Database
from postman_shared.delivery_events import delivery_event_messages
from postman_shared.delivery_log import (
    ERROR,
    SENT,
    WITHHELD,
    DeliveryLog,
    Outcome,
    delivery_event,
    log_batch,
    log_entry,
)
from postman_shared.logging import get_logger
from postman_shared.outcomes import MessageStatus
from postman_shared.screening import BatchScreen
from postman_shared.screening import Message as ScreenedMessage

log = get_logger(component="delivery")


class RenderedMessage(ScreenedMessage, Protocol):
    """What the senders' campaign messages (RenderedEmail, RenderedSms, RenderedTelegram) have in common here."""

    def to_dict(self) -> dict[str, Any]: ...


M = TypeVar("M", bound=RenderedMessage)


@dataclass(frozen=True)
class DeliveredBatch(Generic[M]):
    """What became of each message of a delivered batch, for the channel's metrics, log line and report."""

    messages: list[M]  # the batch, each message once
    fresh: list[M]  # those with no outcome before (neither in the delivery log nor sent before under another id)
    outcomes: dict[str, Outcome]  # what the screen and the provider said of the fresh ones, WITHHELD included
    final: dict[str, Outcome]  # the settled outcomes this batch recorded
    recorded: dict[str, Outcome]  # every outcome announced: recorded before, sent under another id, recorded now
    unfinished: list[M]  # neither recorded nor withheld: published again (put back, or parked for a retry)
    suppressed: dict[str, Outcome]  # not handed over: the recipient is on the suppression list

    @property
    def withheld(self) -> set[str]:
        """The message ids not handed over because their job was stopped (neither recorded nor announced)."""
        return {message_id for message_id, outcome in self.outcomes.items() if outcome.status == WITHHELD}

    @property
    def announced_again(self) -> int:
        """How many messages had an outcome before this batch (a redelivery, or a retry's recipient sent before)."""
        return len(self.messages) - len(self.fresh)


@dataclass(frozen=True)
class BatchReport:
    """What a sender's consumer learns of a delivered batch (SMS and Telegram; email has its own, with its retries)."""

    sent: int
    errored: int
    announced_again: int
    put_back: int = 0  # not sent (the service is stopping, or the provider kept throttling): published again
    suppressed: int = 0  # not sent: the recipient is on the suppression list (or refused the sender)
    withheld: int = 0  # not sent: the job was stopped

    @classmethod
    def of(cls, batch: DeliveredBatch[Any]) -> BatchReport:
        final = batch.final.values()
        return cls(
            sent=sum(o.status == SENT for o in final),
            errored=sum(o.status == ERROR for o in final),
            announced_again=batch.announced_again,
            put_back=len(batch.unfinished),
            suppressed=sum(o.status in (MessageStatus.BLACKLISTED, MessageStatus.UNSUBSCRIBED) for o in final),
            withheld=len(batch.withheld),
        )


class ProviderAdapter(Generic[M]):
    """A channel's part of the delivery of a batch. A subclass sets the class attributes and implements ``send``;
    the other hooks have the behaviour most channels want."""

    channel: str  # names the channel in log lines ("record sms outcomes")
    deliveries: DeliveryLog  # the channel's delivery log (its outcomes table)
    send_queue: str  # the queue a message put back goes to (its channel's send queue)
    messages_metric: Counter  # the channel's messages counter, by status

    def send(self, due: Sequence[M], screen: BatchScreen | None) -> dict[str, Outcome]:
        """The provider's outcome of each message, keyed by message id; none for a message that was not sent and
        must come back (put back). Right before each message is handed over, ``screen`` (when there is one) is asked
        whether its job was stopped meanwhile: WITHHELD if it was."""
        raise NotImplementedError

    def settle(self, message: M, outcome: Outcome) -> Outcome | None:
        """The outcome to record; None: not final yet (the message is published again by ``put_back``)."""
        return outcome

    def after_recording(self, screen: BatchScreen | None) -> None:
        """What follows the commit of the batch's outcomes, before they are announced."""

    def put_back(self, messages: Sequence[M]) -> list[OutgoingMessage]:
        """The messages that come back later, published with the batch's events: same body and id, on its queue."""
        return [OutgoingMessage(self.send_queue, m.to_dict(), m.message_id) for m in messages]

    def account(self, batch: DeliveredBatch[M]) -> None:
        """The metrics and the log line of a delivered batch (one line per job)."""
        for outcome in batch.outcomes.values():
            self.messages_metric.labels(status=outcome.status).inc()
        log_batch(log, batch.messages, batch.outcomes, {m.message_id for m in batch.unfinished})


def deliver_batch(messages: Sequence[M], provider: ProviderAdapter[M], database: Database, publisher: Publisher,
                  screen: BatchScreen | None = None, wait: Callable[[float], bool] | None = None) -> DeliveredBatch[M]:
    """Sends what was not sent before, records it, then announces every recorded outcome of the batch (see above).

    Without ``screen`` nothing is screened (tests of a provider alone)."""
    deliveries = provider.deliveries
    unique = list({m.message_id: m for m in reversed(messages)}.values())[::-1]
    with database.session() as session:
        recorded = deliveries.recorded(session, [m.message_id for m in unique])

    fresh = [m for m in unique if m.message_id not in recorded]
    due: Sequence[M] = fresh
    outcomes: dict[str, Outcome] = {}
    suppressed: dict[str, Outcome] = {}
    if screen is not None:
        screened = screen.screen(fresh, database, deliveries)
        recorded.update(screened.already_sent)
        fresh = [m for m in fresh if m.message_id not in screened.already_sent]
        due, outcomes, suppressed = screened.due, screened.not_handed_over, screened.suppressed
    outcomes.update(provider.send(due, screen))

    final: dict[str, Outcome] = {}
    unfinished: list[M] = []
    for message in fresh:
        outcome = outcomes.get(message.message_id)
        if outcome is not None and outcome.status == WITHHELD:
            continue
        settled = None if outcome is None else provider.settle(message, outcome)
        if settled is None:
            unfinished.append(message)
        else:
            final[message.message_id] = settled
    if final:
        entries = [log_entry(m) for m in fresh if m.message_id in final]
        recorded.update(database.unit_of_work_retried(lambda session: deliveries.record(session, entries, final),
                                                      wait=wait, what=f"record {provider.channel} outcomes"))
    provider.after_recording(screen)

    events = [delivery_event(m, recorded[m.message_id]) for m in unique if m.message_id in recorded]
    publisher.publish(delivery_event_messages(events) + provider.put_back(unfinished))

    batch = DeliveredBatch(unique, fresh, outcomes, final, recorded, unfinished, suppressed)
    provider.account(batch)
    return batch


def decode_rendered(batch: Sequence[Delivery], parse: Callable[[Any], M],
                    what: str) -> tuple[list[M], dict[str, int], list[Delivery]]:
    """The well-formed messages of a batch (a delivery carries one, or a rendered batch of them), the attempt each
    message id is on (``x-postman-attempt``, 1 when absent), and the deliveries that are not well-formed (to be
    dead-lettered)."""
    decoded, malformed = decode_each(batch, parse, what)
    messages: list[M] = []
    attempts: dict[str, int] = {}
    for delivery, message in decoded:
        messages.append(message)
        # The same message twice in a batch (a redelivery next to its retry): the later attempt counts.
        attempts[message.message_id] = max(attempts.get(message.message_id, 0), attempt_of(delivery.headers))
    return messages, attempts, malformed


def rendered_handler(parse: Callable[[Any], M], what: str,
                     deliver: Callable[[Sequence[M], Mapping[str, int]], object],
                     chunk: int = 0) -> Callable[[list[Delivery]], list[Delivery]]:
    """A ``<channel>.send`` consumer's batch handler: decodes the batch, then delivers its messages ``chunk``
    (SENDER_BATCH_SIZE) at a time, however many a delivery carries (a rendered batch holds RENDERED_PER_MESSAGE;
    0: all at once), each part recorded and announced before the next; returns the deliveries to dead-letter."""
    def handle(batch: list[Delivery]) -> list[Delivery]:
        messages, attempts, malformed = decode_rendered(batch, parse, what)
        for part in chunks(messages, chunk):
            deliver(part, attempts)
        return malformed

    return handle

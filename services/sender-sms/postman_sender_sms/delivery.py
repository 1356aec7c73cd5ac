"""Delivering a batch of rendered SMS, at least once and recorded exactly once.

1. One query finds the messages of the batch whose outcome is already in ``sms_deliveries`` (a redelivery after a
   crash, or a duplicate publish): they are not sent again, but their recorded outcome is announced again, because
   the crash may have happened between the commit and the publish (stats ignores a duplicate event).
2. The rest are screened (``postman_shared.screening``): messages of a stopped job are withheld (left unsent), a
   retry's message to a number sent before is announced as sent, a suppressed number's message is recorded
   BLACKLISTED or UNSUBSCRIBED without a call to Twilio.
3. The Twilio account of every other message is made ready first (a failure to reach campaign raises before
   anything is sent, so the whole batch is requeued untouched); then the messages are sent, a few at a time, each
   request (retries too) waiting for its slot of the campaign's send rate (``pace``) and then checking that its job
   was not stopped meanwhile (withheld if it was). A message whose wait is cut short by the service stopping is not
   sent: it is published again to ``sms.send`` (same id) with the events. Twilio's 21610 (the number replied STOP to
   the sender) is not an error: the message is UNSUBSCRIBED and the number is suppressed for the owner's campaigns.
4. Every outcome is inserted in one multi-row statement and committed.
5. Only then are the DeliveryEvents (and the messages put back) published, with one confirm wait for the batch.
When this returns, the batch may be acked.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, wait
from dataclasses import dataclass

from sqlalchemy.orm import Session

from postman_sender_sms.credentials import CredentialUnusable, TwilioSenders
from postman_sender_sms.metrics import MESSAGES
from postman_sender_sms.models import SmsDelivery
from postman_sender_sms.twilio_transport import Outcome, TwilioSender
from postman_shared.broker import OutgoingMessage, Publisher
from postman_shared.broker.topology import SMS_SEND
from postman_shared.callbacks import sms_status_path
from postman_shared.db import Database
from postman_shared.delivery_events import delivery_event_messages
from postman_shared.delivery_log import WITHHELD, DeliveryLog, delivery_event, log_batch, log_entry
from postman_shared.grpc.errors import ServiceError
from postman_shared.logging import get_logger
from postman_shared.messages import RenderedSms
from postman_shared.outcomes import MessageStatus, SuppressionReason
from postman_shared.screening import BatchScreen, Withheld
from postman_shared.send_rate import SendRate, SendRateStopped
from postman_shared.simulation import simulated_outcome
from postman_shared.suppression_client import NewSuppression

log = get_logger(component="delivery")

DELIVERIES = DeliveryLog(SmsDelivery, provider_id_length=64)
# Twilio: "Attempt to send to unsubscribed recipient": the number replied STOP to this sender.
STOPPED_NUMBER = "twilio_21610"


@dataclass(frozen=True)
class BatchReport:
    sent: int
    errored: int
    announced_again: int
    put_back: int = 0  # not sent because the service is stopping: published again to sms.send
    suppressed: int = 0  # not sent: the number is on the suppression list (or replied STOP)
    withheld: int = 0  # not sent: the job was stopped


Pace = Callable[[RenderedSms], object]
CallbackUrl = Callable[[RenderedSms], str | None]  # where Twilio reports the message's statuses; None: nowhere


def status_callback_url(public_url: str, signing_key: str) -> CallbackUrl:
    """The signed status callback URL of each message at the gateway (``PUBLIC_URL``); none when it is empty."""
    base = public_url.rstrip("/")

    def url(message: RenderedSms) -> str | None:
        if not base:
            return None
        return base + sms_status_path(message.campaign_id, message.recipient_id, message.credential_id, signing_key)

    return url


def campaign_pace(send_rate: SendRate, default_rate: int, stop: threading.Event | None = None) -> Pace:
    """Waits for the message's slot at its campaign's rate (``rate``, else ``default_rate``) per second, shared by
    every replica that uses the same store; raises SendRateStopped when ``stop`` is set first."""
    def pace(message: RenderedSms) -> None:
        send_rate.acquire(f"sms:campaign:{message.campaign_id}", message.rate or default_rate, stop)

    return pace


def deliver(messages: Sequence[RenderedSms], database: Database, senders: TwilioSenders, publisher: Publisher,
            pool: Executor, keepalive: Callable[[], object] = lambda: None,
            pace: Pace = lambda message: None, callback_url: CallbackUrl = lambda message: None,
            screen: BatchScreen | None = None, wait: Callable[[float], bool] | None = None) -> BatchReport:
    """Sends what was not sent before, records it, then announces every outcome of the batch.

    ``keepalive`` is called about once a second while messages are with Twilio (the broker's heartbeats). Without
    ``screen`` nothing is screened (tests of the Twilio side alone). The record of what Twilio accepted is tried
    again while the database is unreachable (``wait``: the consumer's pause), since failing would resend them."""
    unique = list({m.message_id: m for m in reversed(messages)}.values())[::-1]
    with database.session() as session:
        recorded = recorded_outcomes(session, [m.message_id for m in unique])

    fresh = [m for m in unique if m.message_id not in recorded]
    due, outcomes = fresh, {}
    if screen is not None:
        screened = screen.screen(fresh, database, DELIVERIES)
        recorded.update(screened.already_sent)
        due, outcomes = screened.due, screened.not_handed_over
        pace = _checked(pace, screen)
    outcomes.update(send(due, senders, pool, keepalive, pace, callback_url))
    stops = _numbers_that_said_stop(due, outcomes)
    withheld = {message_id for message_id, outcome in outcomes.items() if outcome.status == WITHHELD}
    kept = {message_id: outcome for message_id, outcome in outcomes.items() if message_id not in withheld}
    if kept:
        handed = [m for m in fresh if m.message_id in kept]
        recorded.update(database.unit_of_work_retried(lambda session: record(session, handed, kept),
                                                      wait=wait, what="record sms outcomes"))
    if stops and screen is not None:
        _suppress(screen, stops)

    put_back = [m for m in fresh if m.message_id not in recorded and m.message_id not in withheld]
    events = [delivery_event(m, recorded[m.message_id]) for m in unique if m.message_id in recorded]
    publisher.publish(delivery_event_messages(events)
                      + [OutgoingMessage(SMS_SEND, m.to_dict(), m.message_id) for m in put_back])

    for outcome in outcomes.values():
        MESSAGES.labels(status=outcome.status).inc()
    log_batch(log, unique, outcomes, {m.message_id for m in put_back})
    return BatchReport(
        sent=sum(o.status == "SENT" for o in outcomes.values()),
        errored=sum(o.status == "ERROR" for o in outcomes.values()),
        announced_again=sum(m.message_id in recorded and m.message_id not in kept for m in unique),
        put_back=len(put_back),
        suppressed=sum(o.status in (MessageStatus.BLACKLISTED, MessageStatus.UNSUBSCRIBED) for o in outcomes.values()),
        withheld=len(withheld),
    )


def _checked(pace: Pace, screen: BatchScreen) -> Pace:
    """The pace of each request, then the check that its job was not stopped while it waited (raises Withheld)."""
    def paced(message: RenderedSms) -> None:
        pace(message)
        screen.check(message)

    return paced


def _numbers_that_said_stop(messages: Sequence[RenderedSms], outcomes: dict[str, Outcome]) -> list[RenderedSms]:
    """The messages Twilio refused because their number replied STOP; their outcome becomes UNSUBSCRIBED."""
    stops = [m for m in messages if (o := outcomes.get(m.message_id)) is not None and o.error_code == STOPPED_NUMBER]
    for message in stops:
        outcomes[message.message_id] = Outcome.suppressed(
            message.message_id, MessageStatus.UNSUBSCRIBED, SuppressionReason.SMS_STOP,
            "Not sent: the number replied STOP to this sender's messages (Twilio 21610)")
    return stops


def _suppress(screen: BatchScreen, stops: Sequence[RenderedSms]) -> None:
    """Suppresses the numbers that replied STOP for their campaigns' owners; a failure is logged, not raised: the
    messages are recorded, and Twilio refuses the number again (and this is tried again) next time."""
    try:
        screen.suppressions.add([NewSuppression("SMS", m.to, m.user_id, SuppressionReason.SMS_STOP,
                                                "The number replied STOP (Twilio 21610)", m.campaign_id,
                                                m.message_id, "twilio") for m in stops])
    except ServiceError as exc:
        log.warning("numbers that replied STOP could not be suppressed now", count=len(stops), error=exc.message)


def send(messages: Sequence[RenderedSms], senders: TwilioSenders, pool: Executor,
         keepalive: Callable[[], object] = lambda: None, pace: Pace = lambda message: None,
         callback_url: CallbackUrl = lambda message: None) -> dict[str, Outcome]:
    """Twilio's outcome of each message, keyed by message id; a message whose pace was stopped has none."""
    outcomes: dict[str, Outcome] = {}
    ready: list[tuple[RenderedSms, TwilioSender]] = []
    simulated = [m for m in messages if m.simulated]
    for message in messages:
        if message.simulated:
            continue
        try:
            ready.append((message, senders.for_message(message.credential_id, message.user_id)))
        except CredentialUnusable as unusable:
            outcomes[message.message_id] = Outcome.error(message.message_id, unusable.code, unusable.reason)
    futures = {pool.submit(sender.send, message.message_id, message.to, message.body,
                           functools.partial(pace, message), callback_url(message)): message
               for message, sender in ready}
    # A test key's message: paced like any other, then a simulated outcome; Twilio is never called.
    futures.update({pool.submit(_simulate, message, pace): message for message in simulated})
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=1.0)
        for future in done:
            try:
                outcome = future.result()
            except SendRateStopped:
                continue  # not sent: deliver puts it back on the queue
            except Withheld:
                outcome = Outcome.withheld(futures[future].message_id)  # its job was stopped while it waited
            outcomes[outcome.message_id] = outcome
        keepalive()
    return outcomes


def _simulate(message: RenderedSms, pace: Pace) -> Outcome:
    pace(message)
    return simulated_outcome(message.message_id, message.to)


def recorded_outcomes(session: Session, message_ids: list[str]) -> dict[str, Outcome]:
    """The outcomes already in ``sms_deliveries`` of these message ids (one query)."""
    return DELIVERIES.recorded(session, message_ids)


def record(session: Session, messages: Sequence[RenderedSms], outcomes: dict[str, Outcome]) -> dict[str, Outcome]:
    """Inserts the outcomes; where another consumer recorded a message first, its outcome is the one that counts."""
    return DELIVERIES.record(session, [log_entry(m) for m in messages], outcomes)

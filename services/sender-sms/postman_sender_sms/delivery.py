"""Delivering a batch of rendered SMS: the shared skeleton (``postman_shared.sender_pipeline``: dedupe, screening,
record, then announce) with Twilio as its provider.

The Twilio account of every message is made ready first (a failure to reach campaign raises before anything is sent,
so the whole batch is requeued untouched); then the messages are sent, a few at a time, each request (retries too)
waiting for its slot of the campaign's send rate (``pace``) and then checking that its job was not stopped meanwhile
(withheld if it was). A message whose wait is cut short by the service stopping is not sent: it is published again
to ``sms.send`` (same id) with the events. Twilio's 21610 (the number replied STOP to the sender) is not an error:
the message is UNSUBSCRIBED and, once the batch is recorded, the number is suppressed for the owner's campaigns.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, wait

from postman_sender_sms.metrics import MESSAGES
from postman_sender_sms.models import SmsDelivery
from postman_sender_sms.provider_credentials import CredentialUnusable, TwilioSenders
from postman_sender_sms.twilio_transport import Outcome, TwilioSender
from postman_shared.broker import Publisher
from postman_shared.broker.topology import SMS_SEND
from postman_shared.callbacks import sms_status_path
from postman_shared.db import Database
from postman_shared.delivery_log import DeliveryLog
from postman_shared.grpc.errors import ServiceError
from postman_shared.logging import get_logger
from postman_shared.messages import RenderedSms
from postman_shared.outcomes import MessageStatus, SuppressionReason
from postman_shared.screening import BatchScreen, Withheld
from postman_shared.send_rate import SendRate, SendRateStopped
from postman_shared.sender_pipeline import BatchReport, ProviderAdapter, deliver_batch
from postman_shared.simulation import simulated_outcome
from postman_shared.suppression_client import NewSuppression

log = get_logger(component="delivery")

DELIVERIES = DeliveryLog(SmsDelivery, provider_id_length=64)
# Twilio: "Attempt to send to unsubscribed recipient": the number replied STOP to this sender.
STOPPED_NUMBER = "twilio_21610"

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


class TwilioDelivery(ProviderAdapter[RenderedSms]):
    """Twilio as a batch's provider. ``keepalive`` is called about once a second while messages are with Twilio (the
    broker's heartbeats)."""

    channel = "sms"
    deliveries = DELIVERIES
    send_queue = SMS_SEND
    messages_metric = MESSAGES

    def __init__(self, senders: TwilioSenders, pool: Executor, keepalive: Callable[[], object] = lambda: None,
                 pace: Pace = lambda message: None, callback_url: CallbackUrl = lambda message: None) -> None:
        self.senders = senders
        self.pool = pool
        self.keepalive = keepalive
        self.pace = pace
        self.callback_url = callback_url
        self.said_stop: list[RenderedSms] = []  # this batch's numbers that replied STOP

    def send(self, due: Sequence[RenderedSms], screen: BatchScreen | None) -> dict[str, Outcome]:
        pace = self.pace if screen is None else _checked(self.pace, screen)
        outcomes = send(due, self.senders, self.pool, self.keepalive, pace, self.callback_url)
        self.said_stop = _numbers_that_said_stop(due, outcomes)
        return outcomes

    def after_recording(self, screen: BatchScreen | None) -> None:
        if self.said_stop and screen is not None:
            _suppress(screen, self.said_stop)


def deliver(messages: Sequence[RenderedSms], database: Database, senders: TwilioSenders, publisher: Publisher,
            pool: Executor, keepalive: Callable[[], object] = lambda: None,
            pace: Pace = lambda message: None, callback_url: CallbackUrl = lambda message: None,
            screen: BatchScreen | None = None, wait: Callable[[float], bool] | None = None) -> BatchReport:
    """Sends what was not sent before, records it, then announces every outcome of the batch.

    Without ``screen`` nothing is screened (tests of the Twilio side alone). The record of what Twilio accepted is
    tried again while the database is unreachable (``wait``: the consumer's pause), since failing would resend
    them."""
    provider = TwilioDelivery(senders, pool, keepalive, pace, callback_url)
    return BatchReport.of(deliver_batch(messages, provider, database, publisher, screen, wait))


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


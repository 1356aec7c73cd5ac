"""Delivery receipts: Twilio's status callbacks, checked by the gateway and queued on ``sms.status``, become
DeliveryEvents of kind "receipt" for stats.

The gateway has checked the callback URL's HMAC, which ties the URL to one message and one credential. Here, when
the credential's auth token is known (the agency gave its Account SID as the API key), Twilio's own request
signature is checked as well, with the twilio library's ``RequestValidator``: a report that fails it is dropped
(logged, counted), never recorded. A report whose MessageSid is not the one Twilio gave us for that message is
dropped too. Without the auth token (an API-key credential, or one removed since) the URL's HMAC is the only proof,
so the report must also name a SID recorded here for that recipient: an unknown SID waits in ``sms.status.retry``
like an early failure report (its batch may not be committed yet) and is dropped, logged, if it never appears.
Only final statuses matter: delivered -> DELIVERED; undelivered or failed -> ERROR
``twilio_<ErrorCode>``; queued, sending, sent, accepted... are ignored.

Stats applies a receipt once, so a callback Twilio repeats, or the queue redelivers, is announced again harmlessly.
The one thing recorded here is that a message Twilio failed to deliver is no longer "sent" in ``sms_deliveries``
(``DeliveryLog.mark_failed``): a retry of the campaign then sends it again. Twilio can report a failure before this
sender has committed the batch that sent the message (a batch is recorded once all its messages went out, which at a
slow send rate takes minutes); such a report is announced at once and also parked in ``sms.status.retry``, and when
it comes back (1 s, 4 s, then every 15 s, for up to ``MARK_FAILED_ATTEMPTS`` tries) it only marks the message
failed, once its row is there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import select
from twilio.request_validator import RequestValidator

from postman_sender_sms import transactional
from postman_sender_sms.delivery import DELIVERIES
from postman_sender_sms.metrics import RECEIPTS
from postman_sender_sms.models import SmsDelivery, TransactionalSms
from postman_sender_sms.provider_credentials import CredentialUnusable, TwilioSenders
from postman_shared.broker import Delivery, OutgoingMessage
from postman_shared.broker.batches import decode_each
from postman_shared.broker.topology import SMS_STATUS_RETRY
from postman_shared.broker.waiting import attempt_of, growing_wait_ms, with_attempt
from postman_shared.db import Database
from postman_shared.delivery_events import delivery_event_messages
from postman_shared.logging import get_logger
from postman_shared.messages import DeliveryEvent, SmsStatusReport
from postman_shared.outcomes import MessageStatus
from postman_shared.transactional_statuses import TransactionalSmsStatus

log = get_logger(component="receipts")

# Twilio's final message statuses, and what each means for a campaign message (stats' outcome of it).
FINAL_STATUSES = {"delivered": MessageStatus.DELIVERED, "undelivered": MessageStatus.ERROR,
                  "failed": MessageStatus.ERROR}
# The same for a transactional SMS, which shows SENT too (its own status, not stats').
TRANSACTIONAL_STATUSES = {"sent": TransactionalSmsStatus.SENT, "delivered": TransactionalSmsStatus.DELIVERED,
                          "undelivered": TransactionalSmsStatus.ERROR, "failed": TransactionalSmsStatus.ERROR}
# How often a failure report whose message is not recorded yet comes back to mark it failed, and the longest wait
# between two tries: 1 s, 4 s, then 15 s, about 5 minutes in all (a batch of 200 at 1 message a second).
MARK_FAILED_ATTEMPTS = 24
MARK_FAILED_WAIT_CAP_MS = 15_000


def decode(batch: list[Delivery]) -> tuple[list[tuple[SmsStatusReport, int]], list[Delivery]]:
    """The well-formed reports of a batch with the attempt each is, and the deliveries that are not (to be
    dead-lettered)."""
    decoded, malformed = decode_each(batch, SmsStatusReport.from_dict, "sms status report", batches=False)
    return [(report, attempt_of(delivery.headers)) for delivery, report in decoded], malformed


def receipt_event(report: SmsStatusReport) -> DeliveryEvent:
    """The receipt a final status report stands for."""
    status = FINAL_STATUSES[report.status]
    if status == MessageStatus.DELIVERED:
        return DeliveryEvent(report.recipient_id, report.campaign_id, 0, MessageStatus.DELIVERED, kind="receipt")
    code = f"twilio_{report.error_code}" if report.error_code else f"twilio_{report.status}"
    reason = f"Twilio reported the message {report.status}" + (
        f" (error {report.error_code})" if report.error_code else "")
    return DeliveryEvent(report.recipient_id, report.campaign_id, 0, MessageStatus.ERROR, code[:64], reason,
                         kind="receipt")


def _parked(report: SmsStatusReport, attempt: int) -> OutgoingMessage:
    """The report, back in the wait queue for another try once its message may be recorded."""
    return with_attempt(OutgoingMessage(SMS_STATUS_RETRY, report.to_dict(), report.message_id), attempt + 1,
                        growing_wait_ms(attempt, MARK_FAILED_WAIT_CAP_MS))


class ReceiptHandler:
    """The ``sms.status`` batch handler; ``publish`` publishes with confirms (the runtime's publisher)."""

    def __init__(self, senders: TwilioSenders, database: Database,
                 publish: Callable[[list[OutgoingMessage]], object]) -> None:
        self._senders = senders
        self._database = database
        self._publish = publish

    def __call__(self, batch: list[Delivery]) -> list[Delivery]:
        decoded, malformed = decode(batch)
        transactional_reports = [r for r, _ in decoded if r.transactional_sms_id]
        if transactional_reports:
            self.apply_transactional(transactional_reports)
        reports = [(r, attempt) for r, attempt in decoded if not r.transactional_sms_id]
        final = [(r, attempt) for r, attempt in reports if r.status in FINAL_STATUSES]
        RECEIPTS.labels(outcome="ignored").inc(len(reports) - len(final))
        if final:
            events, failed, waiting = self.receipts(final)
            if failed:
                with self._database.unit_of_work() as session:
                    DELIVERIES.mark_failed(session, failed)
            self._publish(delivery_event_messages(events) + waiting)
            for event in events:
                RECEIPTS.labels(outcome=event.status.lower()).inc()
        return malformed

    def receipts(self, reports: Sequence[tuple[SmsStatusReport, int]]
                 ) -> tuple[list[DeliveryEvent], list[str], list[OutgoingMessage]]:
        """The receipts of the first attempts of the reports that pass every check, the ids of the messages they
        report failed, and the failure reports to try again later because their message is not recorded yet
        (raises when campaign cannot be reached)."""
        by_sid, first_sids = self._recorded_sids([report for report, _ in reports])
        events = []
        failed = []
        waiting = []
        for report, attempt in reports:
            context = {"campaign_id": report.campaign_id, "recipient_id": report.recipient_id,
                       "credential_id": report.credential_id, "twilio_status": report.status}
            auth_token = self._auth_token(report.credential_id)
            signed_by_twilio = auth_token is not None
            if signed_by_twilio and not RequestValidator(auth_token).validate(
                    report.url, report.params, report.signature):
                log.warning("status callback dropped: Twilio's request signature does not match", **context)
                RECEIPTS.labels(outcome="forged").inc()
                continue
            if self._names_another_message(report, by_sid, first_sids):
                log.warning("status callback dropped: it names another Twilio message than the one sent",
                            message_sid=report.message_sid, **context)
                RECEIPTS.labels(outcome="mismatched").inc()
                continue
            if not signed_by_twilio and report.message_sid not in by_sid:
                # Only the URL's HMAC vouches for this report: it counts once its SID is one Twilio gave us.
                if attempt < MARK_FAILED_ATTEMPTS:
                    waiting.append(_parked(report, attempt))
                    RECEIPTS.labels(outcome="waiting").inc()
                else:
                    log.warning("status callback dropped: its MessageSid was never recorded for a message sent "
                                "here", message_sid=report.message_sid, attempts=attempt, **context)
                    RECEIPTS.labels(outcome="unknown_sid").inc()
                continue
            event = receipt_event(report)
            # A report Twilio signed was announced on its first attempt (it came back only to mark its message
            # failed); an unsigned one is announced when its SID is first found recorded, whatever the attempt.
            if attempt == 1 or not signed_by_twilio:
                events.append(event)
            if event.status != MessageStatus.ERROR:
                continue
            if report.message_sid in by_sid:
                failed.append(by_sid[report.message_sid])
            elif attempt < MARK_FAILED_ATTEMPTS:
                waiting.append(_parked(report, attempt))
                RECEIPTS.labels(outcome="waiting").inc()
            else:
                log.warning("failure report of a message never recorded here; not marked failed",
                            message_sid=report.message_sid, attempts=attempt, **context)
        return events, failed, waiting

    def apply_transactional(self, reports: Sequence[SmsStatusReport]) -> None:
        """Moves transactional SMS by their receipts (sent, delivered, undelivered/failed), after the same checks:
        Twilio's signature where the auth token is known, and the message SID recorded for that SMS."""
        sids = self._transactional_sids([r.transactional_sms_id for r in reports])
        for report in reports:
            status = TRANSACTIONAL_STATUSES.get(report.status)
            context = {"sms_id": report.transactional_sms_id, "credential_id": report.credential_id,
                       "twilio_status": report.status}
            if status is None:
                RECEIPTS.labels(outcome="ignored").inc()
                continue
            auth_token = self._auth_token(report.credential_id)
            if auth_token is not None and not RequestValidator(auth_token).validate(
                    report.url, report.params, report.signature):
                log.warning("status callback dropped: Twilio's request signature does not match", **context)
                RECEIPTS.labels(outcome="forged").inc()
                continue
            if sids.get(report.transactional_sms_id) != report.message_sid:
                log.warning("status callback dropped: it names another Twilio message than the one sent",
                            message_sid=report.message_sid, **context)
                RECEIPTS.labels(outcome="mismatched").inc()
                continue
            code = None
            if status == TransactionalSmsStatus.ERROR:
                code = (f"twilio_{report.error_code}" if report.error_code else f"twilio_{report.status}")[:64]
            if transactional.apply_receipt(self._database, report.transactional_sms_id, status, code,
                                           f"Twilio reported the message {report.status}"):
                RECEIPTS.labels(outcome=status.lower()).inc()

    def _transactional_sids(self, sms_ids: list[int]) -> dict[int, str]:
        statement = select(TransactionalSms.id, TransactionalSms.provider_message_id).where(
            TransactionalSms.id.in_(sms_ids))
        with self._database.session() as session:
            return {sms_id: sid for sms_id, sid in session.execute(statement) if sid}

    def _auth_token(self, credential_id: int) -> str | None:
        """The auth token of the credential's account, None when it is not known (or the credential is gone: the
        URL's signature is then all there is to check)."""
        try:
            return self._senders.account(credential_id).auth_token
        except CredentialUnusable as unusable:
            log.info("status callback of an unusable credential: URL signature only", credential_id=credential_id,
                     error_code=unusable.code)
            return None

    def _recorded_sids(self, reports: Sequence[SmsStatusReport]) -> tuple[dict[str, str], dict[str, str]]:
        """(the message id that recorded each report's SID, the SID recorded for each recipient's first attempt):
        two indexed queries. A retried message's id is ``<recipient_id>.<job_id>``."""
        by_sid = select(SmsDelivery.provider_message_id, SmsDelivery.message_id).where(
            SmsDelivery.provider_message_id.in_({r.message_sid for r in reports}))
        first = select(SmsDelivery.message_id, SmsDelivery.provider_message_id).where(
            SmsDelivery.message_id.in_({str(r.recipient_id) for r in reports}),
            SmsDelivery.provider_message_id.is_not(None))
        with self._database.session() as session:
            owners = {sid: message_id for sid, message_id in session.execute(by_sid) if sid}
            firsts = {message_id: sid for message_id, sid in session.execute(first) if sid}
        return owners, firsts

    @staticmethod
    def _names_another_message(report: SmsStatusReport, by_sid: dict[str, str], first_sids: dict[str, str]) -> bool:
        """A report whose SID was recorded for another recipient's message, or, when its SID is unknown, for a
        recipient whose message was recorded with another SID."""
        owner = by_sid.get(report.message_sid)
        if owner is not None:
            return owner.split(".", 1)[0] != str(report.recipient_id)
        known = first_sids.get(str(report.recipient_id))
        return bool(known) and known != report.message_sid

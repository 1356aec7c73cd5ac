"""Client webhooks in stats: a user's webhooks (one per kind), their delivery to the user's systems, retries, the
pause of a failing one and its owner's email, the delivery log and the test event.

Why stats: it is where what happened to messages is recorded, it makes no provider call and holds no sending queue,
so a webhook's slow or failing endpoint costs only this consumer's own threads (``client.webhooks``, a pool of
``WEBHOOK_DELIVERY_THREADS``, every request bounded by ``WEBHOOK_TIMEOUT_SECONDS``), never a send.

Delivery (``WebhookHandler``, the ``client.webhooks`` batch handler): the batch's webhooks are read in one query;
events of a user without a webhook of that kind, or whose webhook is paused, are dropped; the others are POSTed on
the pool, signed (``postman_shared.client_webhooks``), each to its checked address, and each attempt records itself
in one transaction: the log (the last ``WEBHOOK_LOG_SIZE`` per webhook), the webhook's failure count, and the pause
of a webhook whose consecutive failures reach ``WEBHOOK_PAUSE_AFTER_FAILURES`` or that has failed for
``WEBHOOK_RETRY_HOURS``, with its owner's notice written to ``stats_outbox`` in that transaction. Then a failed event
goes to ``client.webhooks.retry`` with its next attempt and a TTL of ``WEBHOOK_RETRY_BASE_SECONDS`` doubled per
attempt (at most an hour), until ``WEBHOOK_RETRY_HOURS`` after its first attempt; then it is given up (``expired``).
Delivery is at least once: a client dedupes by ``X-Postman-Event-Id``.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from html import escape

from prometheus_client import Counter
from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from postman_shared import client_webhooks as hooks
from postman_shared import outbox as outboxes
from postman_shared.broker import Delivery, OutgoingMessage, Publisher
from postman_shared.broker.batches import decode_each
from postman_shared.broker.topology import CLIENT_WEBHOOKS_RETRY, OWNER_NOTICES
from postman_shared.broker.waiting import attempt_of, with_attempt
from postman_shared.client_webhooks import Attempt, ClientWebhookEvent, RefusedUrl
from postman_shared.credentials import Sealer, SealError
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, InvalidArgument, NotFound, ServiceError
from postman_shared.logging import get_logger
from postman_shared.messages import OwnerNotice
from postman_shared.outbox import OutboxRelay
from postman_shared.settings import Settings, SettingsError
from postman_shared.timestamps import utcnow
from postman_stats.statuses import WebhookAttemptOutcome
from postman_stats.webhook_models import ClientWebhook, ClientWebhookAttempt, outbox

log = get_logger(component="client-webhooks")

DELIVERIES = Counter(
    "postman_client_webhook_deliveries_total",
    "Client webhook events by what became of them: delivered, failed (will be retried), refused (the URL may not be "
    "called), expired (given up after WEBHOOK_RETRY_HOURS), deferred (4 in flight to its webhook), no_webhook, "
    "paused (dropped), test",
    ["kind", "outcome"],
)
PAUSES = Counter("postman_client_webhooks_paused_total", "Client webhooks paused after repeated failures", ["kind"])

KIND_NAMES = {hooks.TRANSACTIONAL: "transactional message status", hooks.CAMPAIGN: "campaign events"}


@dataclass(frozen=True)
class WebhookConfig:
    timeout: float = 5.0
    allow_private: bool = False
    retry_base_seconds: int = 10
    retry_hours: int = 24
    pause_after_failures: int = 20
    log_size: int = 50
    public_url: str = "http://localhost:8080"

    @classmethod
    def from_settings(cls, settings: Settings) -> "WebhookConfig":
        return cls(timeout=float(settings.webhook_timeout_seconds), allow_private=settings.webhook_allow_private,
                   retry_base_seconds=settings.webhook_retry_base_seconds, retry_hours=settings.webhook_retry_hours,
                   pause_after_failures=settings.webhook_pause_after_failures, log_size=settings.webhook_log_size,
                   public_url=settings.public_url.rstrip("/"))


Post = Callable[..., Attempt]


class Deliverer:
    """Opens a webhook's secret and POSTs one signed event to it."""

    def __init__(self, sealer: Callable[[], Sealer], config: WebhookConfig, post: Post = hooks.post,
                 resolver: hooks.Resolver = hooks.system_resolver) -> None:
        self._sealer = sealer  # built on first use: a missing master key fails the batch, not the start
        self.config = config
        self._post = post
        self.resolver = resolver

    def seal(self, secret: str, user_id: int, kind: str) -> tuple[bytes, str]:
        try:
            sealer = self._sealer()
            return sealer.seal(secret.encode("ascii"), hooks.secret_aad(user_id, kind)), sealer.key_id
        except (SettingsError, SealError) as exc:
            log.error("webhook secret cannot be sealed", error=str(exc))
            raise ServiceError(ErrorCode.SERVICE_UNAVAILABLE, "Webhook secrets cannot be stored now; try again later") \
                from None

    def secret_of(self, webhook: ClientWebhook) -> str:
        return self._sealer().open(webhook.secret_sealed, hooks.secret_aad(webhook.user_id, webhook.kind)).decode()

    def attempt(self, url: str, secret: str, event: ClientWebhookEvent) -> Attempt:
        body = event.payload()
        headers = {hooks.SIGNATURE_HEADER: hooks.signature_header(secret, body),
                   hooks.EVENT_ID_HEADER: event.event_id, hooks.EVENT_TYPE_HEADER: event.type}
        try:
            return self._post(url, body, headers, self.config.timeout, allow_private=self.config.allow_private,
                              resolver=self.resolver)
        except Exception as exc:  # noqa: BLE001 - one endpoint's surprise is that delivery's failure, not the batch's
            log.warning("webhook delivery raised", event_id=event.event_id, error=f"{type(exc).__name__}: {exc}")
            return Attempt(False, None, f"delivery failed: {type(exc).__name__}", 0)


# --- the user's settings ----------------------------------------------------------------------------------------

def check_kind(kind: str) -> str:
    if kind not in hooks.KINDS:
        raise ServiceError(ErrorCode.NOT_FOUND,
                           f"There is no webhook kind {kind[:40]!r}: use transactional or campaign")
    return kind


def _owned(session: Session, user_id: int, kind: str, lock: bool = False) -> ClientWebhook | None:
    query = select(ClientWebhook).where(ClientWebhook.user_id == user_id, ClientWebhook.kind == check_kind(kind))
    return session.scalars(query.with_for_update() if lock else query).one_or_none()


def list_webhooks(database: Database, user_id: int) -> list[ClientWebhook]:
    with database.session() as session:
        rows = list(session.scalars(select(ClientWebhook).where(ClientWebhook.user_id == user_id)
                                    .order_by(ClientWebhook.kind)))
        session.expunge_all()
        return rows


def checked_url(url: str, config: WebhookConfig, resolver: hooks.Resolver) -> str:
    """The URL as stored, once its form and its host's addresses are allowed; invalid_parameters saying why."""
    try:
        parts = hooks.check_url(url, config.allow_private)
        hooks.checked_addresses(parts, config.allow_private, resolver)
    except RefusedUrl as exc:
        raise InvalidArgument(str(exc)) from None
    return url.strip()


def put_webhook(database: Database, deliverer: Deliverer, user_id: int, kind: str,
                url: str) -> tuple[ClientWebhook, str, bool]:
    """Creates the kind's webhook with a new secret, or changes its URL (the secret stays); either way it is resumed.
    Returns (webhook, secret or "" when unchanged, created)."""
    check_kind(kind)
    url = checked_url(url, deliverer.config, deliverer.resolver)
    with database.unit_of_work() as session:
        row = _owned(session, user_id, kind, lock=True)
        secret, created = "", row is None
        now = utcnow()
        if row is None:
            secret = hooks.new_secret()
            sealed, key_id = deliverer.seal(secret, user_id, kind)
            row = ClientWebhook(user_id=user_id, kind=kind, url=url, secret_sealed=sealed, secret_key_id=key_id,
                                created_at=now, consecutive_failures=0)
            session.add(row)
        row.url, row.updated_at = url, now
        row.paused_at, row.pause_reason, row.consecutive_failures, row.failing_since = None, None, 0, None
        session.flush()
        session.refresh(row)
        session.expunge(row)
    log.info("client webhook saved", user_id=user_id, kind=kind, created=created)
    return row, secret, created


def rotate_secret(database: Database, deliverer: Deliverer, user_id: int, kind: str) -> tuple[ClientWebhook, str]:
    with database.unit_of_work() as session:
        row = _owned(session, user_id, kind, lock=True)
        if row is None:
            raise NotFound("Webhook")
        secret = hooks.new_secret()
        row.secret_sealed, row.secret_key_id = deliverer.seal(secret, user_id, kind)
        row.updated_at = utcnow()
        session.flush()
        session.refresh(row)
        session.expunge(row)
    log.info("client webhook secret rotated", user_id=user_id, kind=kind)
    return row, secret


def delete_webhook(database: Database, user_id: int, kind: str) -> ClientWebhook:
    with database.unit_of_work() as session:
        row = _owned(session, user_id, kind, lock=True)
        if row is None:
            raise NotFound("Webhook")
        session.delete(row)
        session.flush()
        session.expunge(row)
    log.info("client webhook deleted", user_id=user_id, kind=kind)
    return row


def attempts(database: Database, user_id: int, kind: str, limit: int) -> list[ClientWebhookAttempt]:
    with database.session() as session:
        row = _owned(session, user_id, kind)
        if row is None:
            raise NotFound("Webhook")
        found = list(session.scalars(select(ClientWebhookAttempt).where(ClientWebhookAttempt.webhook_id == row.id)
                                     .order_by(ClientWebhookAttempt.id.desc()).limit(max(1, min(limit or 50, 200)))))
        session.expunge_all()
        return found


def send_test(database: Database, deliverer: Deliverer, user_id: int, kind: str) -> ClientWebhookAttempt:
    """POSTs a signed ``test`` event now (paused or not), records it in the log and returns the attempt. The failure
    count is left as it is: a test is the user's check, not traffic."""
    with database.session() as session:
        row = _owned(session, user_id, kind)
        if row is None:
            raise NotFound("Webhook")
        session.expunge(row)
    try:
        secret = deliverer.secret_of(row)
    except (SealError, SettingsError):
        raise ServiceError(ErrorCode.SERVICE_UNAVAILABLE, "The webhook's secret cannot be opened now; try again "
                           "later, or rotate the secret") from None
    event = ClientWebhookEvent(event_id=f"test-{uuid.uuid4().hex}", user_id=user_id, kind=kind, type="test",
                               occurred_at=utcnow().isoformat(),
                               data={"message": "A test event from Postman: your endpoint received it.",
                                     "kind": kind})
    result = deliverer.attempt(row.url, secret, event)
    DELIVERIES.labels(kind=kind, outcome="test").inc()
    with database.unit_of_work() as session:
        if session.get(ClientWebhook, row.id) is None:
            raise NotFound("Webhook")
        record = _attempt_row(row.id, event, 1, result, None)
        session.add(record)
        session.flush()
        _trim(session, row.id, deliverer.config.log_size)
        session.refresh(record)
        session.expunge(record)
    log.info("client webhook test event", user_id=user_id, kind=kind, outcome=result.outcome,
             status_code=result.status_code)
    return record


def _attempt_row(webhook_id: int, event: ClientWebhookEvent, attempt: int, result: Attempt, next_at: datetime | None,
                 outcome: WebhookAttemptOutcome | None = None, error: str | None = None) -> ClientWebhookAttempt:
    return ClientWebhookAttempt(webhook_id=webhook_id, event_id=event.event_id[:200], event_type=event.type[:32],
                                attempt=attempt, attempted_at=utcnow(), outcome=outcome or result.outcome,
                                status_code=result.status_code, error=(error or result.error or None),
                                duration_ms=result.duration_ms, next_attempt_at=next_at)


def _trim(session: Session, webhook_id: int, keep: int) -> None:
    """Keeps the newest ``keep`` attempts of the webhook (one indexed query)."""
    oldest_kept = select(ClientWebhookAttempt.id).where(ClientWebhookAttempt.webhook_id == webhook_id) \
        .order_by(ClientWebhookAttempt.id.desc()).offset(keep - 1).limit(1).scalar_subquery()
    session.execute(delete(ClientWebhookAttempt).where(ClientWebhookAttempt.webhook_id == webhook_id,
                                                       ClientWebhookAttempt.id < oldest_kept))


# --- delivery ---------------------------------------------------------------------------------------------------

def paused_notice(webhook: ClientWebhook, public_url: str) -> OwnerNotice:
    what = KIND_NAMES.get(webhook.kind, webhook.kind)
    page = f"{public_url}/settings#webhooks"
    body = (f"<p>Postman has paused your webhook for <b>{escape(what)}</b>: {escape(webhook.pause_reason or '')}.</p>"
            f"<p>Endpoint: <code>{escape(webhook.url)}</code></p>"
            "<p>While it is paused, no event of this kind is sent to it, and events that happen meanwhile are not "
            "kept for later. The delivery log in Settings shows each attempt's answer. Once the endpoint works "
            "again, save the webhook again in Settings (or PUT /v1/settings/webhooks/" f"{escape(webhook.kind)}"
            ") to resume it; \"Send a test event\" checks it first.</p>"
            f"<p><a href=\"{escape(page)}\">{escape(page)}</a></p>")
    notice_id = f"notice-webhook-paused-{webhook.id}-{int(time.time())}"
    return OwnerNotice(notice_id=notice_id, user_id=webhook.user_id, subject=f"Webhook paused: {what}", body=body,
                       audit_action="webhook.paused", audit_target_type="webhook", audit_target_id=webhook.id,
                       audit_details={"kind": webhook.kind, "failures": webhook.consecutive_failures,
                                      "notice_id": notice_id})


def decode(batch: list[Delivery]) -> tuple[list[tuple[ClientWebhookEvent, int]], list[Delivery]]:
    """The well-formed events of a batch with the attempt each is, and the deliveries that are not (dead-lettered)."""
    decoded, malformed = decode_each(batch, ClientWebhookEvent.from_dict, "client webhook event")
    return [(event, attempt_of(delivery.headers)) for delivery, event in decoded], malformed


@dataclass(frozen=True)
class _Work:
    webhook: ClientWebhook
    event: ClientWebhookEvent
    attempt: int


RECHECK_HEADER = "x-postman-recheck"  # a stand-in for an attempt still in flight when its batch was acked
PER_WEBHOOK_IN_FLIGHT = 4  # deliveries to one webhook at once per process; more wait (deferred, no attempt used)
HANDLER_WAIT_SECONDS = 0.5  # how long a batch waits for its deliveries before it is acked anyway


class WebhookHandler:
    """The ``client.webhooks`` batch handler. It never waits on a slow endpoint: each delivery runs on the pool and
    records itself (its attempt, the webhook's failure count, its retry, a pause) when its answer comes; the batch
    waits at most ``HANDLER_WAIT_SECONDS`` and is acked. So that a crash loses nothing, each delivery still in flight
    then leaves a stand-in on ``client.webhooks.retry`` (due after the longest a request can take, header
    ``x-postman-recheck``), which is dropped when it comes back if that attempt was recorded, and delivered
    otherwise. At most ``PER_WEBHOOK_IN_FLIGHT`` deliveries to one webhook run at once; its further events go back to
    the wait queue for a while, their attempt not spent, so one slow endpoint cannot take every thread. Delivery is
    at least once: a client dedupes by ``X-Postman-Event-Id``."""

    def __init__(self, database: Database, publisher: Publisher, deliverer: Deliverer, pool: ThreadPoolExecutor,
                 relay: OutboxRelay | None = None, clock: Callable[[], float] = time.time,
                 wait_seconds: float = HANDLER_WAIT_SECONDS) -> None:
        self._database = database
        self._publisher = publisher
        self._deliverer = deliverer
        self._pool = pool
        self._relay = relay
        self._clock = clock
        self._wait_seconds = wait_seconds
        self._in_flight: collections.Counter[int] = collections.Counter()
        self._lock = threading.Lock()

    def __call__(self, batch: list[Delivery]) -> list[Delivery]:
        events, malformed = decode(batch)
        rechecks = {d.message_id for d in batch if d.headers.get(RECHECK_HEADER)}
        if events:
            self.deliver(events, {(e.event_id, a) for e, a in events if e.event_id in rechecks})
        return malformed

    def _webhooks(self, events: Sequence[tuple[ClientWebhookEvent, int]]) -> dict[tuple[int, str], ClientWebhook]:
        pairs = sorted({(event.user_id, event.kind) for event, _ in events})
        with self._database.session() as session:
            rows = list(session.scalars(select(ClientWebhook).where(
                tuple_(ClientWebhook.user_id, ClientWebhook.kind).in_(pairs))))
            session.expunge_all()
        return {(row.user_id, row.kind): row for row in rows}

    def _already_tried(self, checks: set[tuple[int, str, int]]) -> set[tuple[int, str, int]]:
        if not checks:
            return set()
        with self._database.session() as session:
            return {tuple(row) for row in session.execute(  # type: ignore[misc]
                select(ClientWebhookAttempt.webhook_id, ClientWebhookAttempt.event_id, ClientWebhookAttempt.attempt)
                .where(tuple_(ClientWebhookAttempt.webhook_id, ClientWebhookAttempt.event_id,
                              ClientWebhookAttempt.attempt).in_(sorted(checks))))}

    def deliver(self, events: Sequence[tuple[ClientWebhookEvent, int]],
                rechecks: set[tuple[str, int]] | frozenset[tuple[str, int]] = frozenset()) -> None:
        now = self._clock()
        found = self._webhooks(events)
        work: list[_Work] = []
        for event, attempt in events:
            webhook = found.get((event.user_id, event.kind))
            if webhook is None or webhook.paused_at is not None:
                DELIVERIES.labels(kind=event.kind, outcome="no_webhook" if webhook is None else "paused").inc()
                continue
            work.append(_Work(webhook, replace(event, first_attempt_at=event.first_attempt_at or now), attempt))
        tried = self._already_tried({(w.webhook.id, w.event.event_id, w.attempt) for w in work
                                     if (w.event.event_id, w.attempt) in rechecks})
        work = [w for w in work if (w.webhook.id, w.event.event_id, w.attempt) not in tried]
        if not work:
            return
        secrets = {w.webhook.id: self._deliverer.secret_of(w.webhook) for w in work}  # SealError: batch retried
        later: list[OutgoingMessage] = []
        started: list[tuple[_Work, Future[None]]] = []
        for item in work:
            with self._lock:
                busy = self._in_flight[item.webhook.id] >= PER_WEBHOOK_IN_FLIGHT
                if not busy:
                    self._in_flight[item.webhook.id] += 1
            if busy:
                later.append(self._again(item, self._deliverer.config.timeout, recheck=False))
                DELIVERIES.labels(kind=item.webhook.kind, outcome="deferred").inc()
                continue
            started.append((item, self._pool.submit(self._deliver_one, item, secrets[item.webhook.id])))
        wait([future for _, future in started], timeout=self._wait_seconds)
        for item, future in started:
            if not future.done():  # still talking to a slow endpoint: a stand-in, in case this process dies
                later.append(self._again(item, 2 * self._deliverer.config.timeout + 5, recheck=True))
        if later:
            self._publisher.publish(later)

    @staticmethod
    def _again(item: _Work, seconds: float, recheck: bool) -> OutgoingMessage:
        """The same attempt of the event, back after ``seconds`` (not a new attempt)."""
        message = with_attempt(OutgoingMessage(CLIENT_WEBHOOKS_RETRY, item.event.to_dict(), item.event.message_id),
                               item.attempt, int(seconds * 1000))
        if recheck:
            message.headers[RECHECK_HEADER] = 1
        return message

    def _deliver_one(self, item: _Work, secret: str) -> None:
        try:
            result = self._deliverer.attempt(item.webhook.url, secret, item.event)
            self._record(item, result)
        except Exception as exc:  # noqa: BLE001 - its stand-in (or the redelivered batch) tries it again
            log.error("client webhook attempt not recorded", event_id=item.event.event_id,
                      error=f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._in_flight[item.webhook.id] -= 1

    def _record(self, item: _Work, result: Attempt) -> None:
        """One attempt's outcome, in one transaction: the log, the webhook's failure count and pause (with the
        owner's notice in stats' outbox); then its retry is published."""
        config = self._deliverer.config
        now = self._clock()
        moment = datetime.fromtimestamp(now, timezone.utc)
        retry: OutgoingMessage | None = None
        paused = False
        with self._database.unit_of_work() as session:
            row = session.scalars(select(ClientWebhook).where(ClientWebhook.id == item.webhook.id)
                                  .with_for_update()).one_or_none()
            if row is None:  # deleted while the request was in flight
                return
            outcome, error, next_at = result.outcome, result.error or None, None
            if result.delivered:
                row.consecutive_failures, row.failing_since, row.last_success_at = 0, None, moment
            else:
                row.consecutive_failures += 1
                row.failing_since = row.failing_since or moment
                delay = hooks.retry_delay_seconds(item.attempt, config.retry_base_seconds)
                if now + delay - item.event.first_attempt_at > config.retry_hours * 3600:
                    outcome = WebhookAttemptOutcome.EXPIRED
                    error = f"{result.error}; given up after {item.attempt} attempts over {config.retry_hours} h"
                elif row.paused_at is None:
                    next_at = moment + timedelta(seconds=delay)
                    retry = with_attempt(
                        OutgoingMessage(CLIENT_WEBHOOKS_RETRY, item.event.to_dict(), item.event.message_id),
                        item.attempt + 1, delay * 1000)
                if row.paused_at is None and (
                        row.consecutive_failures >= config.pause_after_failures
                        or moment - row.failing_since >= timedelta(hours=config.retry_hours)):
                    row.paused_at = moment
                    row.pause_reason = (f"{row.consecutive_failures} deliveries in a row failed, the last one: "
                                        f"{result.error}")[:1000]
                    retry, next_at, paused = None, None, True
                    notice = paused_notice(row, config.public_url)
                    outboxes.write(session, outbox, OWNER_NOTICES, notice.message_id, notice.to_dict())
            session.add(_attempt_row(row.id, item.event, item.attempt, result, next_at, outcome, error))
            session.flush()
            _trim(session, row.id, config.log_size)
            kind, user_id, failures = row.kind, row.user_id, row.consecutive_failures
        DELIVERIES.labels(kind=kind, outcome=outcome).inc()
        if retry is not None:
            self._publisher.publish([retry])  # a failure leaves the stand-in (or the redelivery) to try again
        if paused:
            PAUSES.labels(kind=kind).inc()
            log.warning("client webhook paused", webhook_id=item.webhook.id, user_id=user_id, kind=kind,
                        failures=failures)
            if self._relay is not None:
                try:
                    self._relay.flush()
                except Exception as exc:  # noqa: BLE001 - committed; the periodic relay publishes it later
                    log.warning("outbox flush after a pause failed, the relay will retry", error=str(exc))
        log.info("client webhook attempt", event_id=item.event.event_id, user_id=user_id, kind=kind,
                 attempt=item.attempt, outcome=outcome, status_code=result.status_code,
                 duration_ms=result.duration_ms)

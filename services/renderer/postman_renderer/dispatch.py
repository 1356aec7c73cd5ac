"""Rendering a send job: every valid recipient of the campaign becomes one message on its channel's queue (a
RenderedEmail on ``email.send``, a RenderedSms on ``sms.send``, a RenderedTelegram on ``telegram.send``).

A retry job (``retry_of`` set) first has stats move the campaign's ERROR outcomes back to unsent (``StartRetry``,
idempotent), then publishes only the valid recipients stats has no outcome for (a merge of the recipients stream
with stats' ascending stream of recorded ids), with message ids ``<recipient_id>.<job_id>``; its ``JobRendered``
total is every valid recipient of the campaign, since each one either kept its outcome or was published again.

The job is resumable. Recipients stream in id order after the job's recorded resume point; each batch is
published and confirmed before the resume point moves past it, in one short transaction. A process that dies
mid-way gets the SendJob redelivered and continues from the last confirmed batch; the sender recognises the few
messages of an unconfirmed batch by their ids. There is no database round trip per message, only per batch.

Flow control (``RENDER_WINDOW``): with a ``Window``, one call renders one slice of the job, at most the room left in
its channel's queue (the window less the messages the queue holds ready), and says whether the job is DONE, has
MORE to render, or must WAIT for room; the ``campaign.send`` handler puts the job back in line (directly, or through
``campaign.send.wait``), so jobs take turns and the broker holds about one window per channel however big the
campaigns. Each slice holds a PostgreSQL advisory lock on its job, so two deliveries of one job (a continuation and
a redelivery, after a crash between the two) never render at once.

A job that is stopped (by its owner, or halted) while it renders stops at the next batch (``JobStops``: campaign is
asked at most every half second): nothing more is published, no JobRendered, and the SendJob is done; a retry
renders the rest.

Every email arrives in the theme of its owner's agency (``theme.py``: the agency is asked of auth once per job) with
an HTML and a plain-text part, and carries its recipient's own unsubscribe link (``postman_shared.unsubscribe_links``):
in the theme's footer, and in ``unsubscribe_url`` for the List-Unsubscribe headers the sender adds.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import func, select

from postman_renderer import progress
from postman_renderer.email_template import EmailMessageTemplate
from postman_renderer.sms_template import SmsMessageTemplate
from postman_renderer.stats_client import SortedIds
from postman_renderer.telegram_template import TelegramMessageTemplate
from postman_renderer.template import TemplateError
from postman_renderer.theme import NO_LINK, OWN_LINK, EmailLook, ThemedEmail
from postman_shared.broker.batches import RENDERED_PER_MESSAGE, batched
from postman_shared.broker.publisher import OutgoingMessage
from postman_shared.broker.topology import DELIVERY_EVENTS, EMAIL_SEND, SMS_SEND, TELEGRAM_SEND
from postman_shared.campaign_statuses import RENDERED, JobStatus
from postman_shared.db import Database
from postman_shared.grpc.errors import ErrorCode, ServiceError
from postman_shared.job_stops import JobStops
from postman_shared.logging import get_logger
from postman_shared.messages import JobRendered, SendJob, rendered_message_id
from postman_shared.settings import Settings
from postman_shared.unsubscribe_links import UnsubscribeLinks

# A job in one of these states was rendered before (or halted): a redelivered SendJob must do nothing.


# The queue of each campaign channel's messages.
CHANNEL_QUEUES = {"EMAIL": EMAIL_SEND, "SMS": SMS_SEND, "TELEGRAM": TELEGRAM_SEND}

_KNOWN_JOBS = 1000  # jobs whose channel the renderer remembers
_KEPT_ENVELOPES = 32  # jobs whose envelope the renderer keeps

# The advisory lock of a job's slice: the job id in the low 32 bits, "REND" above it (other services' keys differ).
_LOCK_SPACE = 0x52454E44 << 32


class Rendered(enum.Enum):
    DONE = "done"  # nothing more to render (finished, stopped, already finished, or another delivery has the job)
    MORE = "more"  # a slice was rendered; the job goes back in line for the next
    WAIT = "wait"  # its channel's queue is full: the job waits before it is tried again


class Window(Protocol):
    def room(self, queue: str) -> int:
        """How many more messages the renderer may publish to ``queue`` now (0: none)."""
        ...


class JobCannotBeRendered(Exception):
    """A job that no retry can render (unknown job, no template, a saved template that does not parse)."""


class RecipientLike(Protocol):
    id: int
    recipient: str
    params: Mapping[str, str]


class Campaigns(Protocol):
    def get_job(self, job_id: int) -> Any: ...

    def set_job_status(self, job_id: int, status: str) -> None: ...

    def valid_recipients(self, campaign_id: int, after_id: int, batch_size: int,
                         limit: int = 0) -> Iterator[Sequence[Any]]: ...


class Stats(Protocol):
    def start_retry(self, campaign_id: int, job_id: int) -> int: ...

    def recorded_recipients(self, campaign_id: int, after_id: int) -> Iterator[Sequence[int]]: ...


class Publishing(Protocol):
    def publish(self, messages: Sequence[OutgoingMessage], timeout: float = 60.0) -> None: ...


class Looks(Protocol):
    def look(self, user_id: int, show_logo: bool) -> EmailLook:
        """The look of the user's agency (auth GetAgency); raises ServiceError when auth cannot say."""
        ...


class JobRenderer:
    def __init__(
        self,
        campaigns: Campaigns,
        database: Database,
        publisher: Publishing,
        batch_size: int,
        default_sender: str,
        keepalive: Callable[[], None] = lambda: None,
        stats: Stats | None = None,  # needed for retry jobs only
        stops: JobStops | None = None,  # None: a job is never stopped mid-way
        links: UnsubscribeLinks | None = None,  # None: emails carry no unsubscribe link
        looks: Looks | None = None,  # None: every email in the default agency's look, without a masthead
        window: Window | None = None,  # None: a job is rendered whole, as fast as the broker takes it
        per_message: int = RENDERED_PER_MESSAGE,  # rendered messages per AMQP message
    ) -> None:
        self._campaigns = campaigns
        self._database = database
        self._publisher = publisher
        self._batch_size = batch_size
        self._default_sender = default_sender
        self._keepalive = keepalive
        self._stats = stats
        self._stops = stops
        self._links = links
        self._looks = looks
        self._window = window
        self._per_message = max(1, per_message)
        self._envelopes: dict[int, Envelope] = {}  # of recent jobs (oldest first), for their next slices
        self._queues: dict[int, str] = {}  # the channel's queue of recent jobs (oldest first), for their waits

    def render(self, send_job: SendJob) -> Rendered:
        """Publishes the job's remaining recipients (with a window: as many as its channel's queue has room for),
        then, once none is left, JobRendered, and marks the job SENT."""
        log = get_logger(component="dispatch", job_id=send_job.job_id, campaign_id=send_job.campaign_id)
        known = self._queues.get(send_job.job_id)
        if known is not None and self._window is not None and self._window.room(known) == 0:
            return Rendered.WAIT  # its channel is known from an earlier turn: no call to campaign while it waits
        try:
            details = self._campaigns.get_job(send_job.job_id)
        except ServiceError as exc:
            if exc.code == ErrorCode.NOT_FOUND:
                raise JobCannotBeRendered(f"job {send_job.job_id} does not exist") from None
            raise
        status = details.job.status
        if status in RENDERED:
            log.info("job already rendered, ignoring the redelivered send job", status=status)
            return Rendered.DONE
        # Room first, before the envelope (the theme) is built or anything locked: a job waiting for room is cheap.
        queue = CHANNEL_QUEUES.get(details.campaign.type)
        room = None if self._window is None or queue is None else self._window.room(queue)
        if queue is not None and self._window is not None:
            self._queues[send_job.job_id] = queue
            while len(self._queues) > _KNOWN_JOBS:
                del self._queues[next(iter(self._queues))]
        if room == 0:
            return Rendered.WAIT
        with self._job_lock(send_job.job_id) as held:
            if not held:
                log.info("another delivery of the job is rendering it: this one is dropped")
                return Rendered.DONE
            return self._render(send_job, details, room, log)

    @contextlib.contextmanager
    def _job_lock(self, job_id: int) -> Iterator[bool]:
        """The job's advisory lock for one slice, held by a transaction left open for the slice: released when it
        ends, and by PostgreSQL if the renderer dies. Transaction-scoped on purpose: behind PgBouncer in transaction
        mode (deploy/stores/postgres) a session-level lock would be taken on one server connection and its unlock
        sent on another, leaking the lock and leaving the job unrendered for good."""
        key = _LOCK_SPACE | (job_id & 0xFFFFFFFF)
        with self._database.engine.connect() as connection, connection.begin():
            yield bool(connection.execute(select(func.pg_try_advisory_xact_lock(key))).scalar())

    def _render(self, send_job: SendJob, details: Any, room: int | None, log: Any) -> Rendered:
        status = details.job.status
        campaign = details.campaign
        # A job's envelope (its theme and parsed template) serves each of its slices: a job's template is fixed once
        # it is sent.
        envelope = self._envelopes.get(send_job.job_id)
        if envelope is None:
            envelope = self._envelope(details, send_job.job_id)
            if self._window is not None:
                self._envelopes[send_job.job_id] = envelope
                while len(self._envelopes) > _KEPT_ENVELOPES:
                    del self._envelopes[next(iter(self._envelopes))]
        retry = bool(details.job.retry_of)
        if retry:
            if self._stats is None:
                raise JobCannotBeRendered(f"job {send_job.job_id} is a retry, and this renderer has no stats service")
            reset = self._stats.start_retry(campaign.id, send_job.job_id)
            log.info("retry started", retry_of=details.job.retry_of, errors_reset=reset)
        if status != JobStatus.SENDING:
            self._campaigns.set_job_status(send_job.job_id, JobStatus.SENDING)

        with self._database.unit_of_work() as session:
            resume = progress.start(session, send_job.job_id, campaign.id)
            after_id, published = resume.last_recipient_id, resume.published
        if after_id:
            log.debug("rendering from the resume point", after_recipient_id=after_id, published=published)

        # A retry skips the recipients that kept an outcome (SENT; the ERRORs were reset by start_retry).
        recorded = self._stats.recorded_recipients(campaign.id, after_id) if retry and self._stats else None
        done = SortedIds(recorded) if recorded is not None else None
        # A slice reads at most its room of recipients (a retry's may skip some of them, and render fewer).
        limit = room or 0
        stream = self._campaigns.valid_recipients(campaign.id, after_id, self._batch_size, limit)
        read = 0
        try:
            for recipients in stream:
                if not recipients:
                    continue
                read += len(recipients)
                if self._stops is not None and self._stops.is_stopped(send_job.job_id):
                    log.info("job stopped while rendering: the rest is left unsent", published=published)
                    return Rendered.DONE
                due = recipients if done is None else [r for r in recipients if r.id not in done]
                last_id = recipients[-1].id
                full = room is not None and len(due) >= room
                if full and room is not None:  # the slice ends at its room-th message
                    due = due[:room]
                    last_id = due[-1].id
                if due:
                    # RENDERED_PER_MESSAGE messages to an AMQP message (postman_shared.broker.batches).
                    self._publisher.publish(batched([envelope.message(r) for r in due], self._per_message))
                with self._database.unit_of_work() as session:
                    progress.record_batch(session, send_job.job_id, last_id, len(due))
                published += len(due)
                self._keepalive()
                if full:
                    return Rendered.MORE
                if room is not None:
                    room -= len(due)
        finally:  # a slice leaves the streams early: cancel them
            for opened in (stream, recorded):
                close = getattr(opened, "close", None)
                if close is not None:
                    close()

        if room is not None and read >= limit:  # the slice read all it could: the campaign may have more
            return Rendered.MORE

        # A retry's messages complete the campaign's valid recipients: stats counts outcomes per campaign.
        total = campaign.num_recipients - campaign.num_invalid if retry else published
        rendered = JobRendered(job_id=send_job.job_id, campaign_id=campaign.id, total=total)
        self._publisher.publish([OutgoingMessage(DELIVERY_EVENTS, rendered.to_dict(), rendered.message_id)])
        with self._database.unit_of_work() as session:
            progress.finish(session, send_job.job_id)
        self._campaigns.set_job_status(send_job.job_id, JobStatus.SENT)
        log.info("job rendered", total=total, published=published)
        return Rendered.DONE


    def _envelope(self, details: Any, job_id: int) -> "Envelope":
        """What every message of the job shares, for the campaign's channel."""
        campaign = details.campaign
        retry = bool(details.job.retry_of)
        simulated = details.job.simulated or campaign.test  # a test API key's send: no provider is ever called
        try:
            if campaign.type == "EMAIL":
                if not campaign.HasField("email_template"):
                    raise JobCannotBeRendered(f"campaign {campaign.id} has no email template")
                template = campaign.email_template
                look = (self._looks.look(campaign.user_id, template.show_logo) if self._looks is not None
                        else EmailLook(Settings.default_agency_name))
                email = ThemedEmail(EmailMessageTemplate.parse(template.subject, template.body), look,
                                    OWN_LINK if self._links is not None else NO_LINK)
                return JobEnvelope(
                    campaign_id=campaign.id, job_id=job_id, email=email,
                    sender=template.from_address or self._default_sender,
                    reply_to=template.reply_to if template.HasField("reply_to") and template.reply_to else None,
                    retry=retry, simulated=simulated, user_id=campaign.user_id, links=self._links,
                )
            if campaign.type in ("SMS", "TELEGRAM"):
                if not campaign.credential_id:
                    raise JobCannotBeRendered(f"campaign {campaign.id} has no credential to send with")
                rate = details.job.send_rate or None
                if campaign.type == "SMS":
                    if not campaign.HasField("sms_template"):
                        raise JobCannotBeRendered(f"campaign {campaign.id} has no SMS template")
                    return TextEnvelope(SMS_SEND, campaign.id, job_id, campaign.user_id, campaign.credential_id,
                                        rate, SmsMessageTemplate.parse(campaign.sms_template.body).render, retry,
                                        simulated)
                if not campaign.HasField("telegram_template"):
                    raise JobCannotBeRendered(f"campaign {campaign.id} has no Telegram template")
                return TextEnvelope(TELEGRAM_SEND, campaign.id, job_id, campaign.user_id, campaign.credential_id,
                                    rate, TelegramMessageTemplate.parse(campaign.telegram_template.body).render, retry,
                                    simulated)
        except TemplateError as exc:
            raise JobCannotBeRendered(f"the saved template does not parse: {exc.message}") from None
        raise JobCannotBeRendered(f"campaign {campaign.id} is of channel {campaign.type!r}, which has no sender")


class Envelope(Protocol):
    queue: str  # the channel's queue its messages go to

    def message(self, recipient: RecipientLike) -> OutgoingMessage: ...


def _values(recipient: RecipientLike) -> dict[str, object]:
    values: dict[str, object] = dict(recipient.params)
    values.setdefault("recipient", recipient.recipient)
    return values


class TextEnvelope:
    """An SMS or Telegram job: one text per recipient, sent with the campaign's credential at the job's rate.
    The body of a RenderedSms / RenderedTelegram, built directly."""

    def __init__(self, queue: str, campaign_id: int, job_id: int, user_id: int, credential_id: int,
                 rate: int | None, render: Callable[[Mapping[str, object]], str], retry: bool = False,
                 simulated: bool = False) -> None:
        self.queue = queue
        self._job_id = job_id
        self._fixed = {"campaign_id": campaign_id, "job_id": job_id, "user_id": user_id,
                       "credential_id": credential_id, "rate": rate, "simulated": simulated}
        self._retry = retry
        self._render = render

    def message(self, recipient: RecipientLike) -> OutgoingMessage:
        body = {"recipient_id": recipient.id, **self._fixed, "to": recipient.recipient,
                "body": self._render(_values(recipient)), "retry": self._retry}
        return OutgoingMessage(self.queue, body, rendered_message_id(recipient.id, self._job_id, self._retry))


class JobEnvelope:
    """What every message of an email job shares; builds one recipient's message."""

    def __init__(self, campaign_id: int, job_id: int, email: ThemedEmail, sender: str,
                 reply_to: str | None, retry: bool = False, simulated: bool = False, user_id: int = 0,
                 links: UnsubscribeLinks | None = None) -> None:
        self.queue = EMAIL_SEND
        self.campaign_id = campaign_id
        self.simulated = simulated
        self.job_id = job_id
        self.email = email
        self.sender = sender
        self.reply_to = reply_to
        self.retry = retry
        self.user_id = user_id
        self.links = links

    def message(self, recipient: RecipientLike) -> OutgoingMessage:
        url = mailto = None
        if self.links is not None:
            url = self.links.url(self.campaign_id, recipient.recipient)
            mailto = self.links.mailto_address(self.campaign_id, recipient.recipient)
        rendered = self.email.render(_values(recipient), url)
        # The body of a RenderedEmail, built directly: dataclasses.asdict costs more than the rendering itself.
        body = {
            "recipient_id": recipient.id, "campaign_id": self.campaign_id, "job_id": self.job_id,
            "to": recipient.recipient, "sender": self.sender, "reply_to": self.reply_to,
            "subject": rendered.subject, "body": rendered.html, "retry": self.retry, "simulated": self.simulated,
            "user_id": self.user_id, "unsubscribe_url": url, "unsubscribe_mailto": mailto, "text": rendered.text,
        }
        return OutgoingMessage(self.queue, body, rendered_message_id(recipient.id, self.job_id, self.retry))

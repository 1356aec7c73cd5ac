"""Composition root of the sender-email service: consumers of ``email.send``, ``email.priority``, ``email.test``
(campaigns' test emails) and ``email.events``, the TransactionalEmailService gRPC server (transactional emails, sent
during the call), and the reader of the bounce mailbox when ``BOUNCE_IMAP_URL`` is set.

Each consumer has its own thread, broker connection and transport instance (for SMTP, its own connections), and so
do transactional emails, so a campaign holding every connection of its transport never delays a one-time password
or a transactional email. Campaign messages and transactional emails are screened against the suppression list
(SuppressionService, in the campaign process) before they reach the transport.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timezone
from functools import partial

from postman.v1 import transactional_email_pb2_grpc
from postman_sender_email import (
    bounce_mailbox,
    consumer,
    delivery,
    events,
    priority,
    return_path,
    transactional,
    webhook_events,
)
from postman_sender_email.metrics import TEST_EMAIL_MESSAGES
from postman_sender_email.send_retry_policy import OutageBackoff, RetryPolicy
from postman_sender_email.transactional_api import TransactionalEmailServicer
from postman_sender_email.transports import Email, EmailTransport
from postman_shared.broker import BatchConsumer
from postman_shared.broker.batches import rendered_prefetch
from postman_shared.broker.topology import EMAIL_EVENTS, EMAIL_PRIORITY, EMAIL_SEND, EMAIL_TEST
from postman_shared.grpc.errors import ErrorCode, ServiceError
from postman_shared.job_stops import JobStops, campaign_fetch
from postman_shared.logging import get_logger
from postman_shared.messages import PriorityEmail, RenderedEmail
from postman_shared.outbox import OutboxRelay
from postman_shared.runtime import ServiceRuntime
from postman_shared.screening import BatchScreen
from postman_shared.sender_client import AuthVerifiedSenders
from postman_shared.settings import Settings
from postman_shared.suppression_client import SuppressionClient

log = get_logger(component="bootstrap")

# The priority path carries a handful of emails at a time: one connection to the provider is enough.
PRIORITY_CONNECTIONS = 1
# Transactional emails are sent during the API call, several calls at a time: a few connections of their own.
TRANSACTIONAL_CONNECTIONS = 4


def verp(settings: Settings) -> Callable[[Email], str | None]:
    """A campaign message's return path (``BOUNCE_ADDRESS`` set), else the sender's own address."""
    if not settings.bounce_address:
        return lambda email: None

    def address(email: Email) -> str | None:
        if not isinstance(email, RenderedEmail):
            return None
        return return_path.address_for(settings.bounce_address, email.message_id, settings.callback_signing_key)

    return address


def build_transport(settings: Settings, connections: int | None = None) -> EmailTransport:
    """The transport named by EMAIL_TRANSPORT, with ``connections`` connections (SMTP) or requests in flight (SES),
    SMTP_CONNECTIONS when not given."""
    connections = connections or settings.smtp_connections
    if settings.email_transport == "smtp":
        from postman_sender_email.transports.smtp import SmtpTransport

        return SmtpTransport(
            settings.smtp_host, settings.smtp_port, connections=connections,
            timeout=settings.smtp_timeout, starttls=settings.smtp_starttls,
            username=settings.smtp_username, password=settings.smtp_password, return_path=verp(settings),
        )
    if settings.email_transport == "ses":
        import boto3

        from postman_sender_email.transports.ses import SesTransport, client_config

        client = boto3.client(
            "sesv2", region_name=settings.ses_region, endpoint_url=settings.ses_endpoint_url or None,
            config=client_config(),
        )
        # SMTP_CONNECTIONS doubles as "requests in flight to the provider" for SES.
        return SesTransport(client, settings.ses_configuration_set, concurrency=connections,
                            untracked_configuration_set=settings.ses_untracked_configuration_set)
    from postman_sender_email.transports.dev_mailbox import DevMailboxTransport

    return DevMailboxTransport(settings.outbox_dir)


WEBHOOK_RELAY_SECONDS = 0.5  # how soon a transactional status event leaves for the user's webhook


def build(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime("sender-email", settings)
    transport = build_transport(settings)
    suppressions = SuppressionClient(settings.campaign_addr)
    screen = BatchScreen("EMAIL", JobStops(campaign_fetch(settings.campaign_addr)), suppressions)

    retry = RetryPolicy(max_attempts=settings.email_max_attempts, delay_seconds=settings.email_retry_delay_seconds)

    def deliver(emails: Sequence[RenderedEmail], attempts: Mapping[str, int]) -> delivery.BatchReport:
        return delivery.deliver(emails, runtime.database, transport, runtime.publisher, retry, attempts, screen,
                                wait=lambda seconds: email_send.pause(seconds))

    # The pause is the consumer's own (bound below, looked up when a pause is due): stopping the service cuts it short.
    backoff = OutageBackoff(lambda seconds: email_send.pause(seconds), longest=min(retry.delay_seconds, 30))
    email_send = consumer.EmailConsumer(
        transport, settings.amqp_url, EMAIL_SEND, consumer.handler(deliver, backoff, settings.sender_batch_size),
        # Batches and the prefetch in messages: a rendered batch is one delivery of up to RENDERED_PER_MESSAGE.
        batch_size=settings.sender_batch_size,
        prefetch=rendered_prefetch(settings.sender_prefetch, settings.rendered_per_message),
        count_messages=True,
    )
    runtime.add_consumer(email_send)
    runtime.add_consumer(_priority_consumer(settings, runtime))
    runtime.add_consumer(_test_email_consumer(settings, runtime))
    _serve_transactional(settings, runtime, suppressions)
    # With SMTP: the bounces and complaint reports that come back to the VERP return paths (BOUNCE_IMAP_URL).
    mailbox = bounce_mailbox.from_settings(settings, runtime.publisher, mailto_unsubscribe(suppressions))
    if mailbox is not None:
        runtime.add_loop(mailbox.run)
    return runtime


def mailto_unsubscribe(suppressions: SuppressionClient) -> Callable[[int, str], None]:
    """Records an unsubscribe emailed to the List-Unsubscribe mailto address. Campaign unreachable raises (the
    request stays in the mailbox for the next poll); a campaign that is gone is logged and the request dropped."""
    def unsubscribe(campaign_id: int, recipient: str) -> None:
        try:
            suppressions.unsubscribe(campaign_id, recipient, via="mailto")
        except ServiceError as exc:
            if exc.code in (ErrorCode.NOT_FOUND, ErrorCode.INVALID_PARAMETERS, ErrorCode.INVALID_RECIPIENT,
                            ErrorCode.API_VALIDATION):
                log.info("mailto unsubscribe of a campaign that is gone, dropped", campaign_id=campaign_id)
                return
            raise

    return unsubscribe


def transactional_screen(suppressions: SuppressionClient) -> transactional.Screen:
    """The global suppression list for one transactional email's addresses (one call)."""
    def screen(addresses: Sequence[str]) -> dict[str, tuple[str, str]]:
        found = suppressions.screen("EMAIL", [(0, address) for address in addresses], transactional=True)
        return {recipient: (s.reason, s.since.ToDatetime(tzinfo=timezone.utc).date().isoformat())
                for (_, recipient), s in found.items()}

    return screen


def _serve_transactional(settings: Settings, runtime: ServiceRuntime, suppressions: SuppressionClient) -> None:
    """The gRPC server of transactional emails, through a transport of their own, and the consumer of the
    provider's events (of transactional and campaign emails)."""
    transport = build_transport(settings, connections=TRANSACTIONAL_CONNECTIONS)
    servicer = TransactionalEmailServicer(runtime.database, transport, settings.email_from,
                                          transactional_screen(suppressions), AuthVerifiedSenders(settings.auth_addr))
    runtime.serve_grpc(settings.email_sender_addr,
                       [(transactional_email_pb2_grpc.add_TransactionalEmailServiceServicer_to_server, servicer)],
                       ["postman.v1.TransactionalEmailService"])
    runtime.on_stop(transport.close)
    # Transactional status events for the users' webhooks, written with each status change (webhook_events).
    runtime.add_loop(partial(OutboxRelay(runtime.database, webhook_events.outbox, runtime.publisher).run_periodically,
                             interval=WEBHOOK_RELAY_SECONDS))
    runtime.add_consumer(BatchConsumer(
        settings.amqp_url, EMAIL_EVENTS,
        events.EventHandler(runtime.database, runtime.publisher, suppressions, settings.email_max_attempts,
                            settings.email_retry_delay_seconds),
        batch_size=50, prefetch=100,
    ))


def _priority_consumer(settings: Settings, runtime: ServiceRuntime) -> consumer.EmailConsumer:
    """Small batches, delivered as soon as they arrive, through a transport of their own."""
    transport = build_transport(settings, connections=PRIORITY_CONNECTIONS)
    retry = priority.QuickRetry()

    def deliver(emails: Sequence[PriorityEmail]) -> None:
        # The pause is the consumer's own (bound below): it keeps the broker connection alive, and stopping cuts it.
        priority.deliver(emails, runtime.database, transport, retry, pause=lambda s: email_priority.pause(s))

    email_priority = consumer.EmailConsumer(
        transport, settings.amqp_url, EMAIL_PRIORITY, consumer.priority_handler(deliver),
        batch_size=10, prefetch=20, max_wait=0.01,
    )
    return email_priority


def _test_email_consumer(settings: Settings, runtime: ServiceRuntime) -> consumer.EmailConsumer:
    """Campaigns' test emails: the priority path's steps, on a queue, a consumer and a transport connection of their
    own, so an officer's test emails never hold the connection a one-time password needs."""
    transport = build_transport(settings, connections=PRIORITY_CONNECTIONS)
    retry = priority.QuickRetry()

    def deliver(emails: Sequence[PriorityEmail]) -> None:
        priority.deliver(emails, runtime.database, transport, retry, pause=lambda s: email_test.pause(s),
                         metric=TEST_EMAIL_MESSAGES)

    email_test = consumer.EmailConsumer(
        transport, settings.amqp_url, EMAIL_TEST, consumer.priority_handler(deliver),
        batch_size=10, prefetch=20, max_wait=0.01,
    )
    return email_test

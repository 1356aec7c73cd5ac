"""Composition root of the sender-email service: consumers of ``email.send``, ``email.priority`` and
``email.events``, and the TransactionalEmailService gRPC server (transactional emails, sent during the call).

Each consumer has its own thread, broker connection and transport instance (for SMTP, its own connections), and so
do transactional emails, so a campaign holding every connection of its transport never delays a one-time password
or a transactional email.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from postman.v1 import transactional_email_pb2_grpc
from postman_sender_email import consumer, delivery, events, priority
from postman_sender_email.retry import OutageBackoff, RetryPolicy
from postman_sender_email.transactional_api import TransactionalEmailServicer
from postman_sender_email.transports import EmailTransport
from postman_shared.broker import BatchConsumer
from postman_shared.broker.topology import EMAIL_EVENTS, EMAIL_PRIORITY, EMAIL_SEND
from postman_shared.messages import PriorityEmail, RenderedEmail
from postman_shared.runtime import ServiceRuntime
from postman_shared.settings import Settings

# The priority path carries a handful of emails at a time: one connection to the provider is enough.
PRIORITY_CONNECTIONS = 1
# Transactional emails are sent during the API call, several calls at a time: a few connections of their own.
TRANSACTIONAL_CONNECTIONS = 4


def build_transport(settings: Settings, connections: int | None = None) -> EmailTransport:
    """The transport named by EMAIL_TRANSPORT, with ``connections`` connections (SMTP) or requests in flight (SES),
    SMTP_CONNECTIONS when not given."""
    connections = connections or settings.smtp_connections
    if settings.email_transport == "smtp":
        from postman_sender_email.transports.smtp import SmtpTransport

        return SmtpTransport(
            settings.smtp_host, settings.smtp_port, connections=connections,
            timeout=settings.smtp_timeout, starttls=settings.smtp_starttls,
            username=settings.smtp_username, password=settings.smtp_password,
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
    from postman_sender_email.transports.outbox import OutboxTransport

    return OutboxTransport(settings.outbox_dir)


def build(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime("sender-email", settings)
    transport = build_transport(settings)

    retry = RetryPolicy(max_attempts=settings.email_max_attempts, delay_seconds=settings.email_retry_delay_seconds)

    def deliver(emails: Sequence[RenderedEmail], attempts: Mapping[str, int]) -> delivery.BatchReport:
        return delivery.deliver(emails, runtime.database, transport, runtime.publisher, retry, attempts)

    # The pause is the consumer's own (bound below, looked up when a pause is due): stopping the service cuts it short.
    backoff = OutageBackoff(lambda seconds: email_send.pause(seconds), longest=min(retry.delay_seconds, 30))
    email_send = consumer.EmailConsumer(
        transport, settings.amqp_url, EMAIL_SEND, consumer.handler(deliver, backoff),
        batch_size=settings.sender_batch_size, prefetch=settings.sender_prefetch,
        delivery_limit=settings.queue_delivery_limit,
    )
    runtime.add_consumer(email_send)
    runtime.add_consumer(_priority_consumer(settings, runtime))
    _serve_transactional(settings, runtime)
    return runtime


def _serve_transactional(settings: Settings, runtime: ServiceRuntime) -> None:
    """The gRPC server of transactional emails, through a transport of their own, and the consumer of the
    provider's events that move their status."""
    transport = build_transport(settings, connections=TRANSACTIONAL_CONNECTIONS)
    servicer = TransactionalEmailServicer(runtime.database, transport, settings.email_from)
    runtime.serve_grpc(settings.email_sender_addr,
                       [(transactional_email_pb2_grpc.add_TransactionalEmailServiceServicer_to_server, servicer)],
                       ["postman.v1.TransactionalEmailService"])
    runtime.on_stop(transport.close)
    runtime.add_consumer(BatchConsumer(
        settings.amqp_url, EMAIL_EVENTS, events.EventHandler(runtime.database), batch_size=50, prefetch=100,
        delivery_limit=settings.queue_delivery_limit,
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
        batch_size=10, prefetch=20, max_wait=0.01, delivery_limit=settings.queue_delivery_limit,
    )
    return email_priority

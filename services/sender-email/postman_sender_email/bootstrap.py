"""Composition root of the sender-email service: a consumer of ``email.send``, no gRPC server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from postman_sender_email import consumer, delivery
from postman_sender_email.retry import OutageBackoff, RetryPolicy
from postman_sender_email.transports import EmailTransport
from postman_shared.broker.topology import EMAIL_SEND
from postman_shared.messages import RenderedEmail
from postman_shared.runtime import ServiceRuntime
from postman_shared.settings import Settings


def build_transport(settings: Settings) -> EmailTransport:
    """The transport named by EMAIL_TRANSPORT."""
    if settings.email_transport == "smtp":
        from postman_sender_email.transports.smtp import SmtpTransport

        return SmtpTransport(
            settings.smtp_host, settings.smtp_port, connections=settings.smtp_connections,
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
        return SesTransport(client, settings.ses_configuration_set, concurrency=settings.smtp_connections)
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
    email_send = consumer.EmailSendConsumer(
        transport, settings.amqp_url, EMAIL_SEND, consumer.handler(deliver, backoff),
        batch_size=settings.sender_batch_size, prefetch=settings.sender_prefetch,
        delivery_limit=settings.queue_delivery_limit,
    )
    runtime.add_consumer(email_send)
    return runtime

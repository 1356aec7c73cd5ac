"""Composition root of the auth service: the AuthService API, the consumer of ``owner.notices`` (emails to
campaign owners, addressed here because auth knows their addresses) and the API key reminders loop."""

from __future__ import annotations

from datetime import timedelta

from postman.v1 import auth_pb2_grpc
from postman_auth.agencies import AgencyDirectory
from postman_auth.grpc_api import AuthServicer
from postman_auth.key_reminders import KeyReminders
from postman_auth.owner_notices import NoticeHandler
from postman_auth.sender_addresses import SenderAddressRules
from postman_auth.sender_proof import Boto3Identities, SesProof, dns_cname_lookup
from postman_auth.sign_in import SignInRules
from postman_shared.broker import BatchConsumer
from postman_shared.broker.topology import OWNER_NOTICES
from postman_shared.runtime import ServiceRuntime
from postman_shared.settings import Settings


def build(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime("auth", settings)
    # Parsing DOMAIN_ALLOWLIST here makes a bad setting stop the service at start, with the entry named.
    sign_in_rules = SignInRules.from_settings(settings)
    agencies = AgencyDirectory(settings.default_agency_name, settings.email_masthead_domains)
    sender_rules = SenderAddressRules.from_settings(settings, sender_proof(settings))
    key_reminders = KeyReminders(runtime.database, runtime.publisher, settings.email_from, settings.public_url,
                                 settings.api_key_reminder_days, settings.api_key_reminder_poll_seconds)
    servicer = AuthServicer(runtime.database, runtime.publisher, sign_in_rules,
                            timedelta(days=settings.api_key_ttl_days), agencies=agencies, sender_rules=sender_rules,
                            key_reminders=key_reminders)
    runtime.serve_grpc(settings.auth_addr, [(auth_pb2_grpc.add_AuthServiceServicer_to_server, servicer)],
                       ["postman.v1.AuthService"])
    runtime.add_consumer(BatchConsumer(
        settings.amqp_url, OWNER_NOTICES, NoticeHandler(runtime.database, runtime.publisher, settings.email_from),
        batch_size=20, prefetch=40,
    ))
    runtime.add_loop(key_reminders.run)  # API key reminders and revocation emails (key_reminders.py)
    return runtime


def sender_proof(settings: Settings) -> SesProof | None:
    """With SES, what SES and DNS say about a sender address (sender_proof.py); with SMTP or the outbox, nothing:
    a confirmation link is the proof."""
    if settings.email_transport != "ses":
        return None
    import boto3

    client = boto3.client("sesv2", region_name=settings.ses_region, endpoint_url=settings.ses_endpoint_url or None)
    return SesProof(Boto3Identities(client), dns_cname_lookup(settings.dns_nameserver))

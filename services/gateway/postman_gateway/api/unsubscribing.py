"""Unsubscribing, as the gateway does it for the link's page, the one-click POST and upstream's API alike.

Recipients are not signed in: the link itself is the credential. ``h`` must be the HMAC of the campaign and the
recipient under the key named by ``v`` (``postman_shared.unsubscribe_links``); an altered campaign, recipient,
version or hash gets a plain refusal and changes nothing, before any service is called. Every request counts against
``UNSUBSCRIBE_IP_LIMIT_PER_MINUTE`` for its client IP. The campaign service records the unsubscribe (and the owner's
suppression entry) and says who the emails are from.
"""

from __future__ import annotations

from flask import Flask, current_app

from postman.v1 import suppression_pb2
from postman_gateway.core import limiting
from postman_gateway.core.auth import client_ip
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import ErrorCode
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError
from postman_shared.logging import get_logger
from postman_shared.settings import Settings
from postman_shared.unsubscribe_links import UnsubscribeLinks

EXTENSION = "postman_gateway.unsubscribe_links"
MAX_RECIPIENT = 320
MAX_REASON = 500
INVALID = "Invalid unsubscribe request"  # upstream's words

log = get_logger(component="unsubscribe")


class InvalidLink(Exception):
    """The link is not one Postman made: nothing was changed."""


def install(app: Flask, settings: Settings) -> None:
    """Reads UNSUBSCRIBE_KEYS (refusing to start without it outside local development)."""
    app.extensions[EXTENSION] = UnsubscribeLinks.from_settings(settings)


def links() -> UnsubscribeLinks:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def checked(campaign_id: int, recipient: str, version: str, digest: str) -> suppression_pb2.UnsubscribeRequest:
    """The request a link stands for, after the per-IP limit and the signature; InvalidLink otherwise."""
    limiting.check_unsubscribe_limit(client_ip())
    if not recipient or len(recipient) > MAX_RECIPIENT or not links().verify(campaign_id, recipient, version, digest):
        log.info("unsubscribe link refused: its signature does not match", campaign_id=campaign_id)
        raise InvalidLink(INVALID)
    return suppression_pb2.UnsubscribeRequest(campaign_id=campaign_id, recipient=recipient)


def _call(method_name: str, request: suppression_pb2.UnsubscribeRequest) -> suppression_pb2.UnsubscribeState:
    stub = backends().suppression
    assert stub is not None
    try:
        return client.call(getattr(stub, method_name), request, timeout=10.0)
    except ServiceError as exc:
        if exc.code == ErrorCode.NOT_FOUND:  # a link to a campaign that is gone (or is not an email campaign)
            raise InvalidLink(INVALID) from None
        raise


def state(request: suppression_pb2.UnsubscribeRequest) -> suppression_pb2.UnsubscribeState:
    return _call("GetUnsubscribeState", request)


def unsubscribe(request: suppression_pb2.UnsubscribeRequest, reason: str, via: str) -> suppression_pb2.UnsubscribeState:
    request.reason = " ".join(reason.split())[:MAX_REASON]
    request.via = via
    found = _call("Unsubscribe", request)
    log.info("unsubscribed", campaign_id=request.campaign_id, via=via, created=found.created,
             domain=request.recipient.rpartition("@")[2])
    return found


def resubscribe(request: suppression_pb2.UnsubscribeRequest) -> suppression_pb2.UnsubscribeState:
    found = _call("Resubscribe", request)
    log.info("resubscribed", campaign_id=request.campaign_id, domain=request.recipient.rpartition("@")[2])
    return found

"""The document's ``paths``: every route the gateway serves for API callers, with its parameters, request body,
responses and examples.

Written out by hand from the contract (sections 3 to 5) and the gateway's own routes; the three channels' campaign
routes are generated from one matrix (section 4), since they differ only in a few shapes. The quirks of the
generated client are documented rather than hidden: bodiless POSTs that arrive with a form content type, ``{}``
bodies, repeated query keys, and the dotted ``created_at.gt`` filters.

One module per tag (``platform``, ``sign_in``, ``api_keys``, ``sender_addresses``, ``campaigns``,
``channel_campaigns`` for the three channels' campaign tags, ``transactional_email``, ``transactional_sms``,
``unsubscribe``, ``protected_messages``, ``uploads``, ``webhooks``, ``saved_templates``), each with its
``operations()``; ``building`` holds how an operation is written. ``all_operations`` lists them in the document's order.
"""

from __future__ import annotations

from postman_gateway.openapi.paths import (
    api_keys,
    campaigns,
    channel_campaigns,
    platform,
    protected_messages,
    saved_templates,
    sender_addresses,
    sign_in,
    transactional_email,
    transactional_sms,
    unsubscribe,
    uploads,
    webhooks,
)
from postman_gateway.openapi.paths.building import Operation, Paths


def all_operations() -> list[Operation]:
    return [*platform.operations(), *sign_in.operations(), *api_keys.operations(), *sender_addresses.operations(),
            *campaigns.operations(), *channel_campaigns.operations("email"), *channel_campaigns.operations("sms"),
            *channel_campaigns.operations("telegram"), *transactional_email.operations(),
            *transactional_sms.operations(), *unsubscribe.operations(), *protected_messages.operations(),
            *uploads.operations(), *webhooks.operations(), *saved_templates.operations()]


def paths() -> Paths:
    built: Paths = {}
    for path, method, operation in all_operations():
        built.setdefault(path, {})[method] = operation
    return built

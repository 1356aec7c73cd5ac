"""The ``Webhooks`` tag: signed callbacks to the caller's own systems (an extension of v1; docs/webhooks.md)."""

from __future__ import annotations

from typing import Any

from postman_gateway.openapi.paths.building import CALLER_ERRORS, Operation, json_body, ok, op, path_param, query
from postman_gateway.openapi.schemas import WHEN, obj

WEBHOOK_KIND = path_param("kind", "Which webhook: `transactional` (transactional email and SMS status) or "
                                  "`campaign` (a campaign sent, halted, finished).",
                          {"type": "string", "enum": ["transactional", "campaign"]}, example="transactional")
_NULLABLE_TIME: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
_NULLABLE_TEXT: dict[str, Any] = {"type": ["string", "null"]}
WEBHOOK_PROPERTIES: dict[str, Any] = {
    "kind": {"type": "string", "enum": ["transactional", "campaign"]},
    "url": {"type": "string", "description": "Where events are POSTed: https, a public address."},
    "paused": {"type": "boolean", "description": "Paused after repeated failures: nothing is sent until it is saved "
                                                 "again (PUT)."},
    "paused_at": _NULLABLE_TIME, "pause_reason": _NULLABLE_TEXT,
    "consecutive_failures": {"type": "integer", "minimum": 0}, "last_success_at": _NULLABLE_TIME,
    "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
}
WEBHOOK_EXAMPLE = {"kind": "transactional", "url": "https://example.gov.sg/postman/events", "paused": False,
                   "paused_at": None, "pause_reason": None, "consecutive_failures": 0,
                   "last_success_at": "2026-11-27T08:00:05.120Z", "created_at": WHEN, "updated_at": WHEN}
WEBHOOK_SCHEMA = obj(WEBHOOK_PROPERTIES, tuple(WEBHOOK_PROPERTIES))
WEBHOOK_WITH_SECRET = obj({**WEBHOOK_PROPERTIES, "secret": {
    "type": "string", "description": "The signing secret (`whsec_` and 64 hex digits): in this answer only."}},
    (*WEBHOOK_PROPERTIES, "secret"))
WEBHOOK_SECRET_EXAMPLE = {**WEBHOOK_EXAMPLE, "last_success_at": None, "secret": "whsec_" + "5f" * 32}
ATTEMPT_PROPERTIES: dict[str, Any] = {
    "event_id": {"type": "string"}, "event_type": {"type": "string"}, "attempt": {"type": "integer", "minimum": 1},
    "attempted_at": {"type": "string", "format": "date-time"},
    "outcome": {"type": "string", "enum": ["delivered", "failed", "refused", "expired"]},
    "status_code": {"type": ["integer", "null"]}, "error": _NULLABLE_TEXT, "duration_ms": {"type": "integer"},
    "next_attempt_at": _NULLABLE_TIME}
ATTEMPT_SCHEMA = obj(ATTEMPT_PROPERTIES, tuple(ATTEMPT_PROPERTIES))
ATTEMPT_EXAMPLE = {"event_id": "email-41-delivered", "event_type": "email.status", "attempt": 2,
                   "attempted_at": "2026-11-27T08:00:05.120Z", "outcome": "failed", "status_code": 503,
                   "error": "answered HTTP 503", "duration_ms": 84, "next_attempt_at": "2026-11-27T08:00:25.120Z"}


def operations() -> list[Operation]:
    """The caller's webhooks to their own systems (an extension of v1; docs/webhooks.md)."""
    kind_errors = (400, 404, *CALLER_ERRORS)
    return [
        op("GET", "/v1/settings/webhooks", "Webhooks", "The caller's webhooks",
           "An extension of v1. The caller's webhooks (at most one per kind), never their secrets. Events are "
           "POSTed as JSON, signed in `X-Postman-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">` "
           "under the webhook's secret (docs/webhooks.md shows how to check it).",
           ok(200, "The webhooks.", obj({"webhooks": {"type": "array", "items": WEBHOOK_SCHEMA}}, ("webhooks",)),
              {"webhooks": [WEBHOOK_EXAMPLE]})),
        op("PUT", "/v1/settings/webhooks/{kind}", "Webhooks", "Register or change a webhook",
           "An extension of v1. Creates the kind's webhook (201, with its signing `secret`, shown this once) or "
           "changes its URL (200; the secret stays), and resumes it if it was paused. The URL must be https and "
           "its host must resolve to public addresses only (not loopback, private, link-local or reserved), else "
           "400 `invalid_parameters` saying why. Failed deliveries are retried with exponential backoff for 24 "
           "hours; after 20 failures in a row the webhook is paused and its owner emailed.",
           {**ok(201, "Created, with its secret.", WEBHOOK_WITH_SECRET, WEBHOOK_SECRET_EXAMPLE),
            **ok(200, "Changed (and resumed).", WEBHOOK_SCHEMA, WEBHOOK_EXAMPLE)},
           errors=kind_errors, params=[WEBHOOK_KIND],
           body=json_body(obj({"url": {"type": "string", "minLength": 1, "maxLength": 2000}}, ("url",)),
                          {"url": "https://example.gov.sg/postman/events"})),
        op("DELETE", "/v1/settings/webhooks/{kind}", "Webhooks", "Remove a webhook",
           "An extension of v1. No further event of this kind is sent. 404 when the caller has none.",
           ok(200, "Removed.", WEBHOOK_SCHEMA, WEBHOOK_EXAMPLE), errors=kind_errors, params=[WEBHOOK_KIND]),
        op("POST", "/v1/settings/webhooks/{kind}/secret", "Webhooks", "Rotate a webhook's secret",
           "An extension of v1. A new signing secret, shown this once; deliveries are signed with it from now on.",
           ok(200, "The new secret.", WEBHOOK_WITH_SECRET, WEBHOOK_SECRET_EXAMPLE), errors=kind_errors,
           params=[WEBHOOK_KIND]),
        op("GET", "/v1/settings/webhooks/{kind}/deliveries", "Webhooks", "A webhook's delivery log",
           "An extension of v1. The last attempts (newest first): the event, the answer's status code, the error, "
           "how long it took and when the next attempt is due.",
           ok(200, "The attempts.", obj({"deliveries": {"type": "array", "items": ATTEMPT_SCHEMA}}, ("deliveries",)),
              {"deliveries": [ATTEMPT_EXAMPLE]}),
           errors=kind_errors, params=[WEBHOOK_KIND, query("limit", {"type": "integer", "minimum": 1,
                                                                    "maximum": 200},
                                                           "How many attempts (default 50).", 50)]),
        op("POST", "/v1/settings/webhooks/{kind}/test", "Webhooks", "Send a test event",
           "An extension of v1. POSTs a signed `test` event to the webhook now (paused or not) and answers what "
           "came of it; it is also in the delivery log.",
           ok(200, "What came of it.", ATTEMPT_SCHEMA,
              {**ATTEMPT_EXAMPLE, "event_id": "test-3f2a9c", "event_type": "test", "attempt": 1,
               "outcome": "delivered", "status_code": 200, "error": None, "next_attempt_at": None}),
           errors=kind_errors, params=[WEBHOOK_KIND]),
    ]

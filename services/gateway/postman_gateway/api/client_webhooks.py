"""``/v1/settings/webhooks``: the caller's webhooks to their own systems (issue 16; an extension of Postman's v1).

One webhook per kind: ``transactional`` (transactional email and SMS status) and ``campaign`` (a campaign sent,
halted, finished). ``GET`` lists them; ``PUT …/{kind}`` with ``{"url"}`` creates one (its signing secret is in that
answer and nowhere else, ever) or changes its URL and resumes it; ``POST …/{kind}/secret`` rotates the secret (shown
once); ``DELETE …/{kind}`` removes it; ``GET …/{kind}/deliveries`` is its delivery log; ``POST …/{kind}/test`` sends
a signed test event now and answers what came of it. An API key or a session may manage them (an integration
registers its own callback), always the caller's own: stats keys every call by the caller's user id. Bodies are a
URL (``MAX_BODY_BYTES``); the API's per-user limit applies. Changes are audited (``webhook.saved``,
``webhook.secret_rotated``, ``webhook.deleted``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from postman.v1 import client_webhooks_pb2 as pb
from postman_gateway.core import audit
from postman_gateway.core.auth import current_caller
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import ErrorCode, api_validation
from postman_gateway.core.validation import json_body
from postman_shared.client_webhooks import KINDS
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError
from postman_shared.timestamps import to_iso

MAX_BODY_BYTES = 4096
MAX_LOG = 200
TEST_TIMEOUT_SECONDS = 30.0  # the delivery's own timeout is far shorter (WEBHOOK_TIMEOUT_SECONDS, twice at most)

blueprint = Blueprint("client_webhooks", __name__, url_prefix="/settings/webhooks")


def webhook(found: pb.Webhook) -> dict[str, Any]:
    """One webhook as the API shows it (never its secret)."""
    return {"kind": found.kind, "url": found.url, "paused": found.paused, "paused_at": to_iso(found.paused_at),
            "pause_reason": found.pause_reason or None, "consecutive_failures": found.consecutive_failures,
            "last_success_at": to_iso(found.last_success_at), "created_at": to_iso(found.created_at),
            "updated_at": to_iso(found.updated_at)}


def attempt(found: pb.WebhookAttempt) -> dict[str, Any]:
    return {"event_id": found.event_id, "event_type": found.event_type, "attempt": found.attempt,
            "attempted_at": to_iso(found.attempted_at), "outcome": found.outcome,
            "status_code": found.status_code or None, "error": found.error or None,
            "duration_ms": found.duration_ms, "next_attempt_at": to_iso(found.next_attempt_at)}


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ServiceError(ErrorCode.NOT_FOUND,
                           f"There is no webhook kind {kind[:40]!r}: use transactional or campaign")
    return kind


def _stub() -> Any:
    return backends().client_webhooks


@blueprint.get("")
def list_webhooks() -> ResponseReturnValue:
    found = client.call(_stub().ListWebhooks, pb.ListWebhooksRequest(user_id=current_caller().user_id))
    return jsonify(webhooks=[webhook(item) for item in found.webhooks])


@blueprint.put("/<kind>")
def put_webhook(kind: str) -> ResponseReturnValue:
    kind = _kind(kind)
    body = json_body(MAX_BODY_BYTES)
    url = body.get("url")
    if not isinstance(url, str) or not url.strip():
        raise api_validation("url", "is required: the https URL events are POSTed to")
    answer = client.call(_stub().PutWebhook, pb.PutWebhookRequest(user_id=current_caller().user_id, kind=kind,
                                                                   url=url))
    audit.record("webhook.saved", "webhook", kind, {"created": answer.created})
    shown = webhook(answer.webhook)
    if answer.secret:  # created: the secret is in this answer and nowhere else
        shown["secret"] = answer.secret
    return jsonify(shown), 201 if answer.created else 200


@blueprint.post("/<kind>/secret")
def rotate_secret(kind: str) -> ResponseReturnValue:
    answer = client.call(_stub().RotateWebhookSecret,
                         pb.WebhookRequest(user_id=current_caller().user_id, kind=_kind(kind)))
    audit.record("webhook.secret_rotated", "webhook", kind)
    return jsonify({**webhook(answer.webhook), "secret": answer.secret})


@blueprint.delete("/<kind>")
def delete_webhook(kind: str) -> ResponseReturnValue:
    removed = client.call(_stub().DeleteWebhook, pb.WebhookRequest(user_id=current_caller().user_id,
                                                                    kind=_kind(kind)))
    audit.record("webhook.deleted", "webhook", kind)
    return jsonify(webhook(removed))


@blueprint.get("/<kind>/deliveries")
def deliveries(kind: str) -> ResponseReturnValue:
    raw = request.args.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LOG:
        raise api_validation("limit", f"must be a whole number from 1 to {MAX_LOG}")
    found = client.call(_stub().ListWebhookAttempts, pb.WebhookAttemptsRequest(
        user_id=current_caller().user_id, kind=_kind(kind), limit=int(raw)))
    return jsonify(deliveries=[attempt(item) for item in found.attempts])


@blueprint.post("/<kind>/test")
def send_test(kind: str) -> ResponseReturnValue:
    found = client.call(_stub().SendTestWebhookEvent,
                        pb.WebhookRequest(user_id=current_caller().user_id, kind=_kind(kind)),
                        timeout=TEST_TIMEOUT_SECONDS)
    return jsonify(attempt(found))

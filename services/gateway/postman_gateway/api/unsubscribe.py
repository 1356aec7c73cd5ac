"""``PUT`` and ``DELETE /v1/unsubscribe/{campaignId}/{recipient}``: upstream Postman's unsubscribe API, kept so that
links and pages built on it keep working. No API key: the body's ``h`` and ``v`` (the link's signature and key
version) are the credential (``unsubscribing.py``).

- ``PUT`` ``{h, v, reason?}``: records the unsubscribe -> 201 ``{campaignId, recipient, createdAt}``, or 200 with
  the first record's time when it was recorded before (upstream's answers).
- ``DELETE`` ``{h, v}``: resubscribes -> 200 ``{campaignId, recipient}``.
- A link Postman did not make (or a campaign that is gone) -> 400 ``invalid_parameters`` "Invalid unsubscribe
  request", and nothing changes.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from postman_gateway.api import unsubscribing
from postman_gateway.core.errors import ErrorCode
from postman_gateway.core.validation import json_body
from postman_shared.grpc.errors import ServiceError
from postman_shared.timestamps import to_iso

MAX_BODY_BYTES = 4096

blueprint = Blueprint("unsubscribe_api", __name__, url_prefix="/unsubscribe")


def _request(campaign_id: int, recipient: str) -> tuple[Any, dict[str, Any]]:
    body = json_body(MAX_BODY_BYTES)
    version, digest = body.get("v"), body.get("h")
    if not isinstance(version, str) or not isinstance(digest, str):
        raise ServiceError(ErrorCode.INVALID_PARAMETERS, unsubscribing.INVALID)
    try:
        return unsubscribing.checked(campaign_id, recipient, version, digest), body
    except unsubscribing.InvalidLink:
        raise ServiceError(ErrorCode.INVALID_PARAMETERS, unsubscribing.INVALID) from None


@blueprint.put("/<int:campaign_id>/<path:recipient>")
def unsubscribe(campaign_id: int, recipient: str) -> ResponseReturnValue:
    request, body = _request(campaign_id, recipient)
    reason = body.get("reason") or ""
    if not isinstance(reason, str):
        raise ServiceError(ErrorCode.API_VALIDATION, '"reason" must be a string')
    try:
        found = unsubscribing.unsubscribe(request, reason, "api")
    except unsubscribing.InvalidLink:
        raise ServiceError(ErrorCode.INVALID_PARAMETERS, unsubscribing.INVALID) from None
    answer = {"campaignId": found.campaign_id, "recipient": found.recipient, "createdAt": to_iso(found.created_at)}
    return jsonify(answer), 201 if found.created else 200


@blueprint.delete("/<int:campaign_id>/<path:recipient>")
def resubscribe(campaign_id: int, recipient: str) -> ResponseReturnValue:
    request, _ = _request(campaign_id, recipient)
    try:
        found = unsubscribing.resubscribe(request)
    except unsubscribing.InvalidLink:
        raise ServiceError(ErrorCode.INVALID_PARAMETERS, unsubscribing.INVALID) from None
    return jsonify({"campaignId": found.campaign_id, "recipient": found.recipient})

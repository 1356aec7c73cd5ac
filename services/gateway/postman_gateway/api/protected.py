"""``POST /v1/protect/{id}``: a recipient's page fetches their encrypted message (Postman's protect API).

No API key: the proof of the password is the credential. Body ``{password_hash}``: for a version 1 message
Postman's ``b64(SHA-256(key))``, for a version 2 message ``b64(access token)`` (docs/protected-messages.md). Answers:
200 ``{payload}`` (ciphertext: the key never leaves the reader's browser); 403 ``wrong_password`` for a wrong proof
and for an id that does not exist alike; 429 ``message_locked`` after too many wrong proofs for the id (campaign
counts them), or ``rate_limit`` after ``PROTECT_IP_LIMIT_PER_HOUR`` attempts from the client's IP address; 410
``message_expired`` after the retention period.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2
from postman_gateway.core import limiting
from postman_gateway.core.auth import client_ip
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import ErrorCode
from postman_gateway.core.validation import json_body
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

MAX_BODY_BYTES = 1024
MAX_PROOF_CHARACTERS = 256

blueprint = Blueprint("protected_api", __name__, url_prefix="/protect")


@blueprint.post("/<messageId>")
def open_message(messageId: str) -> ResponseReturnValue:  # noqa: N803 - the path's name in the contract
    message_id = messageId
    limiting.check_protect_limit(client_ip())
    body = json_body(MAX_BODY_BYTES)
    proof = body.get("password_hash")
    if not isinstance(proof, str) or not proof.strip():
        raise ServiceError(ErrorCode.API_VALIDATION, '"password_hash" is required: the proof derived from the password')
    if len(proof) > MAX_PROOF_CHARACTERS:
        raise ServiceError(ErrorCode.API_VALIDATION,
                           f'"password_hash" must be at most {MAX_PROOF_CHARACTERS} characters')
    opened = client.call(backends().campaign.OpenProtectedMessage, campaign_pb2.OpenProtectedMessageRequest(
        message_id=message_id[:64], proof=proof.strip()))
    response = jsonify(payload=opened.payload)
    response.headers["Cache-Control"] = "no-store"
    return response

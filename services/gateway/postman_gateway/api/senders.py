"""``/v1/settings/email/from``: the signed-in user's sender addresses, Postman's routes (issue 12).

``GET`` lists what the user may send from (Postman's ``{"from": [...]}``: their verified addresses, then the
default ``EMAIL_FROM``) and every address with its state (``addresses``); ``POST …/verify`` with ``{"email"}`` (or
Postman's ``{"from": "Name <address>"}``) proves a new address (auth ``VerifySenderAddress``: SES and DNS, or a
confirmation link mailed to it); ``DELETE …/{id}`` removes one. Like ``/v1/api-key``, only a session manages them
(``auth.require_session``): a leaked API key cannot add a From to send as. Whose address it is, is auth's check:
another user's id is ``not_found``. Bodies are a few fields (``MAX_BODY_BYTES``); the API's per-user limit applies.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue

from postman.v1 import auth_pb2
from postman_gateway.core.auth import client_ip, current_caller, require_session
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import api_validation
from postman_gateway.core.sender_address_status import SenderAddressStatus
from postman_gateway.core.validation import json_body, positive_id
from postman_shared.grpc import client
from postman_shared.settings import Settings
from postman_shared.timestamps import to_iso

EXTENSION = "postman_gateway.senders"
MAX_BODY_BYTES = 4096
SESSION_ONLY = "Sender addresses can only be managed from a signed-in session"

blueprint = Blueprint("senders", __name__, url_prefix="/settings/email/from")
blueprint.before_request(lambda: require_session(SESSION_ONLY))


def install(app: Flask, settings: Settings) -> None:
    app.extensions[EXTENSION] = (settings.email_from, settings.sender_confirm_hours)


def sender_address(found: auth_pb2.SenderAddress) -> dict[str, Any]:
    """One address as the API shows it (no token, ever)."""
    return {"id": found.id, "email": found.email, "status": found.status, "method": found.method,
            "created_at": to_iso(found.created_at), "verified_at": to_iso(found.verified_at),
            "confirm_expires_at": to_iso(found.confirm_expires_at)}


def outcome_message(found: auth_pb2.SenderAddress) -> str:
    """What happens next, in words, after an address was sent to be verified."""
    if found.status == SenderAddressStatus.VERIFIED:
        return f"{found.email} is verified: you can send email from it."
    hours = current_app.extensions[EXTENSION][1]
    return (f"A confirmation link was emailed to {found.email}. Follow it within {hours} hours to send email from "
            "this address.")


def list_addresses(user_id: int) -> list[auth_pb2.SenderAddress]:
    return list(client.call(backends().auth.ListSenderAddresses,
                            auth_pb2.ListSenderAddressesRequest(user_id=user_id)).addresses)


@blueprint.get("")
def list_senders() -> ResponseReturnValue:
    addresses = list_addresses(current_caller().user_id)
    verified = [found.email for found in addresses if found.status == SenderAddressStatus.VERIFIED]
    return jsonify({"from": [*verified, current_app.extensions[EXTENSION][0]],
                    "addresses": [sender_address(found) for found in addresses]})


@blueprint.post("/verify")
def verify_sender() -> ResponseReturnValue:
    body = json_body(MAX_BODY_BYTES)
    value = body.get("email", body.get("from"))
    if value is None:
        raise api_validation("email", "is required")
    if not isinstance(value, str):
        raise api_validation("email", "must be a string")
    if not value.strip():
        raise api_validation("email", "is not allowed to be empty")
    found = client.call(backends().auth.VerifySenderAddress, auth_pb2.VerifySenderAddressRequest(
        user_id=current_caller().user_id, email=value, ip=client_ip()), timeout=30.0)
    return jsonify({**sender_address(found), "message": outcome_message(found)})


@blueprint.delete("/<sender_id>")
def delete_sender(sender_id: str) -> ResponseReturnValue:
    removed = client.call(backends().auth.DeleteSenderAddress, auth_pb2.DeleteSenderAddressRequest(
        user_id=current_caller().user_id, sender_address_id=positive_id(sender_id, "id"), ip=client_ip()))
    return jsonify(id=removed.id)

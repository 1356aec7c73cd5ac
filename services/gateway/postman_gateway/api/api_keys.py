"""``/v1/api-key``: the signed-in user's API keys. Only a session manages keys (see ``auth.require_session``);
whose key it is, is the auth service's check: another user's key id is ``not_found``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from postman.v1 import auth_pb2
from postman_gateway.core import serializers
from postman_gateway.core.auth import client_ip, current_caller, require_session
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import api_validation
from postman_gateway.core.validation import json_body, optional_bool, positive_id, required_string
from postman_shared.grpc import client

blueprint = Blueprint("api_keys", __name__, url_prefix="/api-key")
blueprint.before_request(require_session)
MAX_NOTIFICATION_CONTACTS = 5  # as auth checks it; each address is checked there


def notification_contacts(body: dict[str, Any]) -> list[str]:
    """``notification_contacts``: an array of at most 5 email addresses (absent or null: none)."""
    value = body.get("notification_contacts")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise api_validation("notification_contacts", "must be an array of email addresses")
    if len(value) > MAX_NOTIFICATION_CONTACTS:
        raise api_validation("notification_contacts",
                             f"may list at most {MAX_NOTIFICATION_CONTACTS} email addresses, got {len(value)}")
    return value


@blueprint.post("")
def create_api_key() -> ResponseReturnValue:
    body = json_body()
    request = auth_pb2.CreateApiKeyRequest(user_id=current_caller().user_id, label=required_string(body, "label"),
                                           ip=client_ip(), test=optional_bool(body, "test", default=False),
                                           notification_contacts=notification_contacts(body))
    created = client.call(backends().auth.CreateApiKey, request)
    # The key in clear is in this response and nowhere else: not logged, not stored, never shown again.
    key = serializers.api_key(created.key)
    return jsonify(id=key["id"], label=key["label"], api_key=created.api_key, last_five=key["last_five"],
                   created_at=key["created_at"], expires_at=key["expires_at"], test=key["test"],
                   notification_contacts=key["notification_contacts"]), 201


@blueprint.get("")
def list_api_keys() -> ResponseReturnValue:
    result = client.call(backends().auth.ListApiKeys, auth_pb2.ListApiKeysRequest(user_id=current_caller().user_id))
    return jsonify([serializers.api_key(key) for key in result.keys])


@blueprint.delete("/<key_id>")
def revoke_api_key(key_id: str) -> ResponseReturnValue:
    request = auth_pb2.RevokeApiKeyRequest(user_id=current_caller().user_id,
                                           api_key_id=positive_id(key_id, "id"), ip=client_ip())
    revoked = client.call(backends().auth.RevokeApiKey, request)
    return jsonify(id=revoked.id)

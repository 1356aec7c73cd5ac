"""``/v1/api-key``: the signed-in user's API keys. Only a session manages keys (see ``auth.require_session``);
whose key it is, is the auth service's check: another user's key id is ``not_found``."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from postman.v1 import auth_pb2
from postman_gateway import serializers
from postman_gateway.auth import client_ip, current_caller, require_session
from postman_gateway.backends import backends
from postman_gateway.validation import json_body, optional_bool, positive_id, required_string
from postman_shared.grpc import client

blueprint = Blueprint("api_keys", __name__, url_prefix="/api-key")
blueprint.before_request(require_session)


@blueprint.post("")
def create_api_key() -> ResponseReturnValue:
    body = json_body()
    request = auth_pb2.CreateApiKeyRequest(user_id=current_caller().user_id, label=required_string(body, "label"),
                                           ip=client_ip(), test=optional_bool(body, "test", default=False))
    created = client.call(backends().auth.CreateApiKey, request)
    # The key in clear is in this response and nowhere else: not logged, not stored, never shown again.
    key = serializers.api_key(created.key)
    return jsonify(id=key["id"], label=key["label"], api_key=created.api_key, last_five=key["last_five"],
                   created_at=key["created_at"], expires_at=key["expires_at"], test=key["test"]), 201


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

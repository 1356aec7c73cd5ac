"""The ``API keys`` tag: the signed-in user's API keys (session only)."""

from __future__ import annotations

from postman_gateway.openapi.paths.building import CALLER_ERRORS, Operation, json_body, ok, op, path_param, ref_example
from postman_gateway.openapi.schemas import NOTIFICATION_CONTACTS, obj, ref


def operations() -> list[Operation]:
    return [
        op("POST", "/v1/api-key", "API keys", "Create an API key",
           "Makes a key for the signed-in user. The key is in this response only, never shown again. "
           "Its owner and `notification_contacts` are emailed before it expires and when it is revoked (the key's "
           "label and last five characters, never the key). More than 5 contacts, or one that is not an email "
           "address, is 400 `api_validation` naming `notification_contacts`. "
           "Session only: an API key cannot mint keys (403).",
           ok(201, "The new key.", ref("CreatedApiKey"), ref_example("CreatedApiKey")),
           errors=(400, 403, *CALLER_ERRORS),
           body=json_body(obj({"label": {"type": "string", "minLength": 1, "maxLength": 100},
                               "test": {"type": "boolean", "default": False,
                                        "description": "A test key: sends are simulated, never given to a "
                                                       "provider."},
                               "notification_contacts": {**NOTIFICATION_CONTACTS, "default": []}}, ("label",)),
                          {"label": "laptop", "test": False, "notification_contacts": ["team@agency.gov.sg"]})),
        op("GET", "/v1/api-key", "API keys", "List the caller's API keys",
           "Live keys, by their last five characters: never the key itself. Session only.",
           ok(200, "The keys.", {"type": "array", "items": ref("ApiKey")}, [ref_example("ApiKey")]),
           errors=(403, *CALLER_ERRORS)),
        op("DELETE", "/v1/api-key/{id}", "API keys", "Revoke an API key",
           "Revokes one of the caller's keys at once. Another user's key is 404. Session only.",
           ok(200, "Revoked.", ref("ApiKeyIdObject"), {"id": 5}), errors=(400, 403, 404, *CALLER_ERRORS),
           params=[path_param("id", "The key's id.", example="5")]),
    ]

"""The ``Extensions: saved templates`` tag (issue 18): an officer's messages saved under a name per channel, to start
campaigns from. Not part of Postman v1: every operation says so in ``x-postman-extension``."""

from __future__ import annotations

from typing import Any

from postman_gateway.openapi.paths.building import (
    CALLER_ERRORS,
    CAMPAIGN_ERRORS,
    CAMPAIGN_ID,
    FROM,
    Operation,
    json_body,
    ok,
    op,
    path_param,
    query,
)
from postman_gateway.openapi.schemas import CHANNEL_TYPES, WHEN, obj

TAG = "Extensions: saved templates"
EXTENSION_NOTE = ("Not part of Postman v1: an extension of this platform (saved templates). Postman's own fields "
                  "and routes are unchanged by it.")
TEMPLATE_ID = path_param("template_id", "The saved template's id.", {"type": "string", "pattern": "^[0-9]+$"},
                         example="7")
_NAME: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 100,
                         "description": "Unique per user and channel (a clash is 400 `api_validation` naming "
                                        "`name`)."}
TEMPLATE_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer"}, "name": _NAME, "channel": {"type": "string", "enum": CHANNEL_TYPES},
    "subject": {"type": "string", "description": "Email only."},
    "body": {"type": "string", "description": "As the channel's campaign template stores it: sanitised HTML for "
                                              "email, plain text for SMS, Telegram's HTML for Telegram."},
    "reply_to": {"type": ["string", "null"], "description": "Email only."},
    "from": {"type": "string", "description": "Email only: the From as it is sent."},
    "show_logo": {"type": "boolean", "description": "Email only."},
    "params": {"type": "array", "items": {"type": "string"}, "description": "The template's keys, lower-cased."},
    "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
}
TEMPLATE_SCHEMA = obj(TEMPLATE_PROPERTIES, ("id", "name", "channel", "body", "params", "created_at", "updated_at"))
TEMPLATE_EXAMPLE = {"id": 7, "name": "Appointment reminder", "channel": "EMAIL",
                    "subject": "Your appointment on {{date}}", "body": "<p>Dear {{name}}, see you on {{date}}.</p>",
                    "reply_to": None, "from": "Postman <donotreply@mail.postman.gov.sg>", "show_logo": True,
                    "params": ["name", "date"], "created_at": WHEN, "updated_at": WHEN}
SMS_EXAMPLE = {"id": 8, "name": "Clinic SMS", "channel": "SMS", "body": "Hi {{name}}, your slot is {{time}}.",
               "params": ["name", "time"], "created_at": WHEN, "updated_at": WHEN}
FIELDS = obj({"name": _NAME, "channel": {"type": "string", "enum": CHANNEL_TYPES},
              "subject": {"type": "string", "description": "Email: required."},
              "body": {"type": "string", "minLength": 1},
              "reply_to": {"type": ["string", "null"], "description": "Email only."},
              "from": {"type": "string", "description": f"Email only: `{FROM}` (the default) or one of the "
                                                        "caller's verified sender addresses; empty: the default."},
              "show_logo": {"type": "boolean", "default": True, "description": "Email only."}},
             ("name", "channel", "body"))
RULES = ("Checked as the channel's campaign template is (`PUT /v1/campaign/{campaignId}/<channel>/template`): sizes, "
         "the From rule, the renderer's validation (HTML sanitised, keys listed); a refusal is 400 naming the field. "
         "The password-protected rule does not apply.")


def _op(*args: Any, **kwargs: Any) -> Operation:
    path, method, operation = op(*args, **kwargs)
    operation["x-postman-extension"] = EXTENSION_NOTE
    return path, method, operation


def operations() -> list[Operation]:
    one = (400, 404, *CALLER_ERRORS)
    return [
        _op("GET", "/v1/templates", TAG, "List saved templates",
            f"{EXTENSION_NOTE} The caller's saved templates, by channel then name.",
            ok(200, "The templates.", obj({"templates": {"type": "array", "items": TEMPLATE_SCHEMA}}, ("templates",)),
               {"templates": [TEMPLATE_EXAMPLE, SMS_EXAMPLE]}),
            errors=(400, *CALLER_ERRORS),
            params=[query("channel", {"type": "string", "enum": CHANNEL_TYPES}, "Only this channel.", "EMAIL")]),
        _op("POST", "/v1/templates", TAG, "Save a template",
            f"{EXTENSION_NOTE} {RULES}",
            ok(201, "The template.", TEMPLATE_SCHEMA, TEMPLATE_EXAMPLE), errors=(400, *CALLER_ERRORS),
            body=json_body(FIELDS, {"name": "Appointment reminder", "channel": "EMAIL",
                                    "subject": "Your appointment on {{date}}",
                                    "body": "<p>Dear {{name}}, see you on {{date}}.</p>"})),
        _op("GET", "/v1/templates/{template_id}", TAG, "Read a saved template",
            f"{EXTENSION_NOTE} Another user's template is 404.",
            ok(200, "The template.", TEMPLATE_SCHEMA, TEMPLATE_EXAMPLE), errors=one, params=[TEMPLATE_ID]),
        _op("PUT", "/v1/templates/{template_id}", TAG, "Change a saved template",
            f"{EXTENSION_NOTE} Replaces its name and fields (a field left out takes its default, as on create); "
            f"`channel` may be left out but cannot change. {RULES} Campaigns started from it keep their own copy.",
            ok(200, "The template.", TEMPLATE_SCHEMA, TEMPLATE_EXAMPLE), errors=one, params=[TEMPLATE_ID],
            body=json_body(obj({k: v for k, v in FIELDS["properties"].items()}, ("name", "body")),
                           {"name": "Appointment reminder", "subject": "Your appointment on {{date}}",
                            "body": "<p>Dear {{name}}, we will see you on {{date}}.</p>"})),
        _op("DELETE", "/v1/templates/{template_id}", TAG, "Delete a saved template",
            f"{EXTENSION_NOTE} Campaigns started from it keep their copy.",
            ok(200, "Deleted.", obj({"id": {"type": "integer"}}, ("id",)), {"id": 7}), errors=one,
            params=[TEMPLATE_ID]),
        _op("POST", "/v1/campaigns/{campaignId}/template/save-as", TAG, "Save a campaign's message as a template",
            f"{EXTENSION_NOTE} The campaign's saved template (of its channel) becomes a new saved template named "
            "`name`. A campaign without a message is 400 `invalid_template`; another user's campaign is 404. To "
            "start a campaign from a template, pass `template_id` to `POST /v1/campaigns` (its `type` must be the "
            "template's channel; not with `protect`).",
            ok(201, "The template.", TEMPLATE_SCHEMA, TEMPLATE_EXAMPLE), errors=CAMPAIGN_ERRORS, params=[CAMPAIGN_ID],
            body=json_body(obj({"name": _NAME}, ("name",)), {"name": "Appointment reminder"})),
    ]

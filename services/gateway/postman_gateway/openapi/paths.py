"""The document's ``paths``: every route the gateway serves for API callers, with its parameters, request body,
responses and examples.

Written out by hand from the contract (sections 3 to 5) and the gateway's own routes; the three channels' campaign
routes are generated from one matrix (section 4), since they differ only in a few shapes. The quirks of the
generated client are documented rather than hidden: bodiless POSTs that arrive with a form content type, ``{}``
bodies, repeated query keys, and the dotted ``created_at.gt`` filters.
"""

from __future__ import annotations

import re
from typing import Any

from postman_gateway.openapi.schemas import (
    CHANNEL_TYPES,
    CLASSIFICATIONS,
    EMAIL_MESSAGE_EXAMPLE,
    EMAIL_STATUSES,
    NOTIFICATION_CONTACTS,
    SMS_MESSAGE_EXAMPLE,
    SMS_STATUSES,
    STRING,
    TRANSACTIONAL_SORTS,
    WHEN,
    Schema,
    obj,
    ref,
    schemas,
)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
# Every route needing a caller can answer these, whatever it does (403: the caller's address is no longer allowed by
# DOMAIN_ALLOWLIST).
CALLER_ERRORS = (401, 403, 429, 500, 503)
# ... and every route naming a campaign: a non-numeric id is a 400, another user's campaign a 404, a cross-site
# state change with a session cookie a 403.
CAMPAIGN_ERRORS = (400, 403, 404, *CALLER_ERRORS)
FROM = "Postman <donotreply@mail.postman.gov.sg>"

Paths = dict[str, dict[str, Any]]


def operation_id(method: str, path: str) -> str:
    """The generated client's naming: ``/v1/campaign/{campaignId}/email/upload/start`` GET ->
    ``campaignCampaignIdEmailUploadStartGet``."""
    words = [w for w in re.split(r"[/{}\-._]+", path.removeprefix("/v1")) if w]
    camel = "".join(w[:1].upper() + w[1:] for w in words) + method.capitalize()
    return camel[:1].lower() + camel[1:]


def json_content(schema: Schema, example: Any) -> dict[str, Any]:
    return {JSON: {"schema": schema, "example": example}}


def json_body(schema: Schema, example: Any, required: bool = True, description: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"required": required, "content": json_content(schema, example)}
    if description:
        body["description"] = description
    return body


def optional_body(schema: Schema, example: Any, description: str) -> dict[str, Any]:
    """A body the client may leave out: it then sends ``{}`` as JSON, or nothing with axios' form content type."""
    return {
        "required": False,
        "description": description,
        "content": {JSON: {"schema": schema, "example": example}, FORM: {"schema": schema, "example": {}}},
    }


def ok(status: int, description: str, schema: Schema | None = None, example: Any = None,
       media_type: str = JSON) -> dict[int, dict[str, Any]]:
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {media_type: {"schema": schema, "example": example}}
    return {status: response}


def path_param(name: str, description: str, schema: Schema | None = None, example: Any = "20") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema or {"type": "string", "pattern": "^[0-9]+$"}, "example": example}


def query(name: str, schema: Schema, description: str, example: Any = None, required: bool = False) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": required, "description": description,
                             "schema": schema}
    if schema.get("type") == "array":
        param.update(style="form", explode=True)
    if example is not None:
        param["example"] = example
    return param


CAMPAIGN_ID = path_param("campaignId", "The campaign's id (numeric, sent as a string by the client).")


def op(method: str, path: str, tag: str, summary: str, description: str, responses: dict[int, dict[str, Any]],
       errors: tuple[int, ...] = CALLER_ERRORS, params: list[dict[str, Any]] | None = None,
       body: dict[str, Any] | None = None, public: bool = False) -> tuple[str, str, dict[str, Any]]:
    operation: dict[str, Any] = {
        "tags": [tag], "summary": summary, "description": description, "operationId": operation_id(method, path),
    }
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = body
    answers = {str(status): response for status, response in responses.items()}
    for status in sorted(set(errors)):
        answers.setdefault(str(status), {"$ref": f"#/components/responses/Error{status}"})
    operation["responses"] = dict(sorted(answers.items()))
    if public:
        operation["security"] = []
    return path, method.lower(), operation


# --- platform: ping, sign-in, API keys, this document ---------------------------------------------------------------

def platform_operations() -> list[tuple[str, str, dict[str, Any]]]:
    email = {"type": "string", "format": "email"}
    return [
        op("GET", "/v1/ping", "Platform", "Liveness", "Answers `pong` without a key: the gateway is up.",
           ok(200, "The gateway is up.", {"type": "string", "const": "pong"}, "pong", "text/plain"),
           errors=(500,), public=True),
        op("GET", "/v1/openapi.json", "Platform", "This document",
           "The OpenAPI 3.1 document of the API, without a key. A readable page of it is served at `/docs`.",
           ok(200, "The OpenAPI document.", {"type": "object", "required": ["openapi", "paths"]},
              {"openapi": "3.1.0", "info": {"title": "Postman API", "version": "1.0.0"}, "paths": {}}),
           errors=(500,), public=True),
        op("POST", "/v1/auth/otp", "Sign-in", "Email a one-time password",
           "Emails a one-time password to an allowed agency address. Limited per client IP and per address.",
           ok(200, "The password was sent.", ref("MessageResult"),
              {"message": "A one-time password was sent to officer@agency.gov.sg; it is valid for 10 minutes"}),
           errors=(400, 403, 429, 500, 503), public=True,
           body=json_body(obj({"email": email}, ("email",)), {"email": "officer@agency.gov.sg"})),
        op("POST", "/v1/auth/login", "Sign-in", "Sign in with the one-time password",
           "Starts a session: the response sets the `postman_session` cookie (HttpOnly). A request whose `Origin` "
           "is another site is refused (403), and so is an address whose domain is no longer allowed. Wrong "
           "passwords are counted per address and client IP (a few tries each); sign-in attempts are limited per "
           "client IP (`LOGIN_IP_LIMIT_PER_HOUR`, 429).",
           ok(200, "Signed in; the cookie is set.", ref("UserInfo"),
              {"id": 3, "email": "officer@agency.gov.sg", "rate_limit": 10, "authenticated_by": "session"}),
           errors=(400, 401, 403, 429, 500, 503), public=True,
           body=json_body(obj({"email": email, "otp": {"type": "string"}}, ("email", "otp")),
                          {"email": "officer@agency.gov.sg", "otp": "ABC123"})),
        op("GET", "/v1/auth/userinfo", "Sign-in", "Who is calling",
           "The caller, and whether this request was authenticated by an API key or a session.",
           ok(200, "The caller.", ref("UserInfo"), ref_example("UserInfo"))),
        op("GET", "/v1/auth/logout", "Sign-in", "Sign out",
           "Ends the session server-side and clears the cookie. Only a session signs out (an API key is revoked "
           "with `DELETE /v1/api-key/{id}`): with an API key this is 403.",
           ok(200, "Signed out.", ref("MessageResult"), {"message": "Signed out"}), errors=(403, *CALLER_ERRORS)),
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
        *sender_address_operations(),
    ]


def sender_address_operations() -> list[tuple[str, str, dict[str, Any]]]:
    """Postman's custom From addresses (``/settings/email/from``), session only like the API keys."""
    return [
        op("GET", "/v1/settings/email/from", "Sender addresses", "What the caller may send email from",
           "`from` (Postman's shape): the caller's verified addresses, then the default `EMAIL_FROM`, which may be "
           "used with any display name (it then reads \"<name> via Postman\"). `addresses`: every address of the "
           "caller with its state. Session only: with an API key this is 403.",
           ok(200, "The addresses.", ref("SenderAddresses"), ref_example("SenderAddresses")),
           errors=(403, *CALLER_ERRORS)),
        op("POST", "/v1/settings/email/from/verify", "Sender addresses", "Prove an address to send email from",
           "The address (`email`, or Postman's `from`: `Name <address>`) must be one plain address in an agency "
           "domain allowed to sign in; with Amazon SES it must also be verified with DKIM in SES, its DKIM CNAMEs "
           "resolving. It is VERIFIED at once when SES holds the address itself (for officers of its domain); "
           "otherwise a confirmation link is emailed to it (valid `SENDER_CONFIRM_HOURS`, once) and it is PENDING "
           "until the link is followed. What is missing is a 400 `invalid_from_address`; a new link to the same "
           "address within a minute is 429. Session only.",
           ok(200, "Verified, or a link was emailed.", ref("SenderAddressVerification"),
              ref_example("SenderAddressVerification")),
           errors=(400, 403, *CALLER_ERRORS),
           body=json_body(obj({"email": {"type": "string", "minLength": 1,
                                         "description": "The address (or `Name <address>`)."},
                               "from": {"type": "string", "description": "Postman's name for the same field."}}),
                          {"email": "noreply@agency.gov.sg"})),
        op("DELETE", "/v1/settings/email/from/{id}", "Sender addresses", "Remove a sender address",
           "Email whose From uses it is refused from now on, and a scheduled campaign that uses it is not sent. "
           "Another user's address is 404. Session only.",
           ok(200, "Removed.", ref("SenderAddressIdObject"), {"id": 4}), errors=(400, 403, 404, *CALLER_ERRORS),
           params=[path_param("id", "The address's id.", example="4")]),
    ]


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


def client_webhook_operations() -> list[tuple[str, str, dict[str, Any]]]:
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


def ref_example(name: str) -> Any:
    """The example a component schema carries, reused as the example of a response."""
    return schemas()[name]["examples"][0]


# --- campaigns (contract section 3) ----------------------------------------------------------------------------------

def campaign_operations() -> list[tuple[str, str, dict[str, Any]]]:
    meta = ref_example("CampaignMeta")
    return [
        op("GET", "/v1/campaigns", "Campaigns", "List campaigns",
           "The caller's campaigns, newest first unless `sort_by`/`order_by` say otherwise.",
           ok(200, "A page of campaigns and how many there are in all.", ref("CampaignList"),
              ref_example("CampaignList")),
           errors=(400, *CALLER_ERRORS),
           params=[
               query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}, "Page size.", 10),
               query("offset", {"type": "integer", "minimum": 0, "default": 0}, "How many to skip.", 0),
               query("type", {"type": "string", "enum": CHANNEL_TYPES}, "Only this channel.", "EMAIL"),
               query("status", {"type": "string", "enum": ["Draft", "Sending", "Sent", "Scheduled"]},
                     "Only campaigns in this state (`Scheduled` is the upstream server's extra).", "Draft"),
               query("name", {"type": "string"}, "Only campaigns whose name contains this.", "reminders"),
               query("sort_by", {"type": "string", "enum": ["created_at", "sent_at"], "default": "created_at"},
                     "Sort key.", "created_at"),
               query("order_by", {"type": "string", "enum": ["ASC", "DESC"], "default": "DESC"}, "Sort order.",
                     "DESC"),
           ]),
        op("POST", "/v1/campaigns", "Campaigns", "Create a campaign",
           "A new draft campaign of one channel. `protect` (the upstream server's extra) defaults to false.",
           ok(201, "The campaign.", ref("CampaignMeta"), meta), errors=(400, 403, *CALLER_ERRORS),
           body=json_body(obj({"name": {"type": "string", "minLength": 1}, "type": ref("ChannelType"),
                               "protect": {"type": "boolean", "default": False}}, ("name", "type")),
                          {"name": "Appointment reminders", "type": "EMAIL"})),
        op("PUT", "/v1/campaigns/{campaignId}", "Campaigns", "Rename a campaign",
           "Changes the name. `should_save_list` is accepted and ignored: managed lists do not exist here.",
           ok(200, "The campaign.", ref("CampaignMeta"), {**meta, "name": "Renamed"}), errors=CAMPAIGN_ERRORS,
           params=[CAMPAIGN_ID],
           body=json_body(obj({"name": {"type": "string", "minLength": 1}, "should_save_list": {"type": "boolean"}}),
                          {"name": "Renamed"})),
        op("DELETE", "/v1/campaigns/{campaignId}", "Campaigns", "Delete a draft campaign",
           "Deletes a campaign that has not been sent or scheduled, with its template and recipients. A sent or "
           "scheduled one is 403.",
           ok(200, "Deleted.", ref("CampaignIdObject"), {"id": "20"}), errors=CAMPAIGN_ERRORS,
           params=[path_param("campaignId", "The campaign's id (the client types it as a number here).",
                              {"type": "integer", "minimum": 1}, example=20)]),
        op("POST", "/v1/campaigns/{campaignId}/cancel", "Campaigns", "Cancel a scheduled send",
           "Cancels a send scheduled with `scheduledTiming` that has not been released yet; the campaign is a "
           "draft again. Nothing scheduled is 400. The client posts no body (axios adds a form content type).",
           ok(200, "Cancelled.", ref("CampaignIdObject"), {"id": "20"}), errors=CAMPAIGN_ERRORS,
           params=[CAMPAIGN_ID], body=optional_body(obj({}), {}, "No data: ignored if any.")),
    ]


# --- per-channel campaign routes (contract section 4) ---------------------------------------------------------------

RATE = {"sms": {"type": "integer", "minimum": 1, "description": "SMS per second (default SMS_DEFAULT_RATE)."},
        "telegram": {"type": "integer", "minimum": 1, "maximum": 30, "default": 30,
                     "description": "Messages per second (at most TELEGRAM_MAX_RATE)."}}
SCHEDULED_TIMING = {"type": "string", "format": "date-time",
                    "description": "Send at this time instead of now (a time in the past sends now)."}
LABEL = {"type": "string", "pattern": "^[a-z0-9-]+$", "minLength": 1, "maxLength": 50}
MD5 = "1B2M2Y8AsgTpgAmY7PhCfg=="
UPLOAD_COMPLETE = {"transaction_id": "0b5c7f3e-4c1d-4a47-9a57-5f1e1f0c9d11", "filename": "recipients.csv",
                   "etag": '"d41d8cd98f00b204e9800998ecf8427e"'}
TWILIO = {"twilio_account_sid": "AC0123456789abcdef0123456789abcdef",
          "twilio_api_key": "SK0123456789abcdef0123456789abcdef", "twilio_api_secret": "your-api-secret",
          "twilio_messaging_service_sid": "MG0123456789abcdef0123456789abcdef"}
NOT_HERE = ("Managed lists do not exist on this platform: after the ownership check this answers 400 "
            "`invalid_parameters` and the campaign is unchanged.")
PROTECTED_FILE = (" The file is Postman's `recipient,payload,passwordhash,id` (version 1) or this platform's "
                  "`recipient,payload,accesshash,id,salt,iterations` (version 2): see docs/protected-messages.md. "
                  "Each row is checked (address, base64, the id a UUID used nowhere else) and an error names the "
                  "line and column, as for any upload.")


def channel_operations(channel: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Section 4's matrix for one channel (``email``, ``sms`` or ``telegram``)."""
    tag = {"email": "Email campaigns", "sms": "SMS campaigns", "telegram": "Telegram campaigns"}[channel]
    base = f"/v1/campaign/{{campaignId}}/{channel}"
    email, sms, telegram = channel == "email", channel == "sms", channel == "telegram"
    name = {"email": "EmailCampaign", "sms": "SMSCampaign", "telegram": "TelegramCampaignDetails"}[channel]
    id_result = (ok(200, "Done.", ref("CampaignIdObject"), {"id": "20"}))

    def at(method: str, sub: str, summary: str, description: str, responses: dict[int, dict[str, Any]],
           errors: tuple[int, ...] = CAMPAIGN_ERRORS, params: list[dict[str, Any]] | None = None,
           body: dict[str, Any] | None = None) -> tuple[str, str, dict[str, Any]]:
        return op(method, base + sub, tag, summary, description, responses, errors, [CAMPAIGN_ID, *(params or [])],
                  body)

    if email:
        template_body = json_body(
            obj({"subject": {"type": "string", "minLength": 1}, "body": {"type": "string", "minLength": 1},
                 "reply_to": {"type": ["string", "null"]}, "from": {"type": "string"},
                 "show_logo": {"type": "boolean", "default": True}}, ("subject", "body", "reply_to", "from")),
            {"subject": "Your appointment, {{name}}", "body": "<p>Dear {{name}}</p>", "reply_to": None, "from": FROM},
            description="`reply_to` must be present and may be null. `{{ key }}` tags; HTML is sanitised. `from`: "
                        "the default address with any display name (saved as \"<name> via Postman <address>\"), or "
                        "an address the caller verified (`/v1/settings/email/from`); else 400 "
                        "`invalid_from_address`, here and again at send. `subject` and `body` may each be at most "
                        "`EMAIL_TEMPLATE_MAX_BYTES` UTF-8 bytes (131,072 by default); a larger one is a 400 "
                        "`api_validation` naming the field and the limit.")
        template_result = ok(200, "The saved template and whether the campaign can be sent.",
                             ref("EmailTemplateResult"), ref_example("EmailTemplateResult"))
    else:
        template_body = json_body(obj({"body": {"type": "string", "minLength": 1}}),
                                  {"body": "Dear {{name}}, your appointment is tomorrow."},
                                  description="The 200-character limit of the spec is not enforced (contract §7)."
                                  + (" Telegram HTML; other tags are removed." if telegram else "")
                                  + " `body` may be at most "
                                  + ("`TELEGRAM_TEMPLATE_MAX_BYTES` UTF-8 bytes (65,536 by default)" if telegram
                                     else "`SMS_TEMPLATE_MAX_BYTES` UTF-8 bytes (16,384 by default)")
                                  + "; a larger one is a 400 `api_validation` naming the field and the limit.")
        template_result = ok(200, "The saved template.", ref("ChannelTemplateResult"),
                             ref_example("ChannelTemplateResult"))
    upload_status = "EmailUploadStatus" if email else "ChannelUploadStatus"
    no_body = optional_body(obj({}), {}, "No data. The client posts none (axios adds a form content type); "
                                         "anything sent is ignored.")
    operations = [
        at("GET", "", "Campaign details", "The campaign, its template and its recipient list.",
           ok(200, "The campaign.", ref(name), ref_example(name))),
        at("PUT", "/template", "Save the template", "Saves the template; says which keys it uses and whether the "
           "recipient list has them all.", template_result, body=template_body),
        at("GET", "/upload/start", "Start a recipient list upload",
           "A presigned URL to PUT the CSV to (with `Content-Type` = `mime_type` and `Content-MD5` = `md5`), and a "
           "transaction id for `upload/complete`.",
           ok(200, "Where to upload.", ref("UploadStartResult"), ref_example("UploadStartResult")),
           params=[query("mime_type", {"type": "string", "minLength": 1}, "The file's type.", "text/csv", True),
                   query("md5", {"type": "string", "minLength": 1}, "The file's MD5, base64.", MD5, True)]),
        at("POST", "/upload/complete", "Finish a recipient list upload",
           "The file is then processed in the background: poll `upload/status`. `etag` is optional. The client "
           "sends `{}` when called without arguments (a 400 naming `transaction_id`).",
           ok(202, "Accepted for processing.", ref("CampaignIdObject"), {"id": "20"}),
           body=json_body(obj({"transaction_id": {"type": "string", "minLength": 1},
                               "filename": {"type": "string", "minLength": 1}, "etag": {"type": "string"}},
                              ("transaction_id", "filename")), UPLOAD_COMPLETE)),
        at("GET", "/upload/status", "Recipient list status",
           "Processing, recipient count, preview with the first row, or the error (line and field).",
           ok(200, "The upload's state.", ref(upload_status), ref_example(upload_status))),
        at("DELETE", "/upload/status", "Clear a failed upload's error", "Clears the error of a failed upload.",
           id_result),
        at("POST", "/credentials", "Use credentials for the campaign",
           {"email": "Sends a test email of the template to `recipient` and attaches the default email credential. "
                     "`{}` (the client without arguments) is a 400 `invalid_recipient`. A test email is a send: it "
                     "counts against the caller's send limit and against `TEST_EMAILS_PER_CAMPAIGN_PER_DAY` (20) "
                     "for this campaign; past either, 429 `rate_limit` with `Retry-After` (503 while the limiter "
                     "is unreachable). With a test API key it is simulated: no provider is called.",
            "sms": "Uses the saved Twilio credential `label`, after a test SMS to `recipient`.",
            "telegram": "Uses the saved bot `label`."}[channel],
           ok(200, "The credential is the campaign's.", ref("MessageResult"), {"message": "OK"}),
           body=json_body(
               obj({"recipient": {"type": "string"}}, ("recipient",)) if email
               else obj({"recipient": {"type": "string"}, "label": {"type": "string"}}) if sms
               else obj({"label": {"type": "string"}}),
               {"recipient": "officer@agency.gov.sg"} if email
               else {"recipient": "+6591234567", "label": "moh-sms"} if sms else {"label": "agency-bot"},
               required=False)),
    ]
    if not email:
        operations.append(at(
            "POST", "/new-credentials", "Add new credentials",
            "Checks new credentials (Twilio: a test SMS to `recipient`; Telegram: getMe and the webhook) and "
            "assigns them; stored sealed, and saved for reuse when `label` is given.",
            ok(200, "Checked and assigned.", ref("MessageResult"), {"message": "OK"}),
            body=json_body(
                {"allOf": [ref("TwilioCredentials"), obj({"recipient": {"type": "string"}, "label": LABEL})]} if sms
                else obj({"telegram_bot_token": {"type": "string"}, "label": LABEL}),
                {**TWILIO, "recipient": "+6591234567", "label": "moh-sms"} if sms
                else {"telegram_bot_token": "123456789:AAExampleTokenFromBotFather0123456", "label": "agency-bot"},
                required=False)))
    if telegram:
        operations.append(at(
            "POST", "/credentials/verify", "Send a test message",
            "A test message with the campaign's bot to `recipient`, a phone number subscribed to the bot.",
            ok(200, "Sent.", ref("MessageResult"), {"message": "OK"}),
            body=json_body(obj({"recipient": {"type": "string"}}), {"recipient": "+6591234567"}, required=False)))
    preview = "EmailPreview" if email else "ChannelPreview"
    stats = "EmailCampaignStats" if email else "CampaignStats"
    export_row = "EmailExportRow" if email else "CampaignRecipient"
    send_schema = obj({"scheduledTiming": SCHEDULED_TIMING} if email else
                      {"rate": RATE[channel], "scheduledTiming": SCHEDULED_TIMING})
    operations += [
        at("GET", "/preview", "Preview", "The template rendered with the first recipient; a redacted campaign (its "
           "recipients deleted `CAMPAIGN_RETENTION_DAYS` after it finished) is 410 `campaign_redacted`.",
           ok(200, "The preview.", ref(preview), ref_example(preview)), errors=(410, *CAMPAIGN_ERRORS)),
        at("POST", "/send", "Send the campaign",
           ("No body (axios adds a form content type); `scheduledTiming` may come as JSON or form data. "
            if email else "`{}` when the client is called without arguments. ")
           + "A campaign already sent is 403 `already_sent`. With `scheduledTiming` in the future the job waits "
             "(`READY`) until then.",
           ok(200, "The send job(s).", ref("SendResult"), {"campaign_id": 20, "job_id": [31]}),
           body=(optional_body(send_schema, {"scheduledTiming": "2026-11-28T01:00:00.000Z"},
                               "Optional; empty or form-encoded is fine.") if email
                 else json_body(send_schema, {"rate": 10}, required=False))),
        at("POST", "/retry", "Retry failed messages, or resume",
           "Sends again the messages that failed; for a stopped or halted job, also those never sent (the resume: "
           "possible five seconds after the stop, it sends each message once). A halted campaign needs "
           "`{\"confirm_halted\": true}`: without it, a 400 that says why it was halted. Otherwise no body. A "
           "redacted campaign (its recipients deleted) is 410 `campaign_redacted`.",
           ok(200, "The retry job.", ref("RetryResult"), {"campaign_id": 20}),
           body=optional_body(obj({"confirm_halted": {
               "type": "boolean", "default": False,
               "description": "An extension of v1: the owner confirms sending the rest of a halted campaign."}}),
               {"confirm_halted": True}, "No data, or `confirm_halted` to resume a halted campaign."),
           errors=(410, *CAMPAIGN_ERRORS)),
        at("POST", "/stop", "Stop sending",
           "An extension of v1. Stops the campaign's send: within about a second no further message is handed to a "
           "provider; what was not handed over stays `unsent`, and `retry` resumes it. A campaign that is not "
           "sending is a 400 that says what to do instead (a scheduled one: cancel it).",
           ok(200, "Stopped.", ref("StopResult"), {"campaign_id": 20, "status": "STOPPED"}), body=no_body),
        at("GET", "/stats", "Counters",
           "Counters; `status` is `LOGGED` when every message has an outcome; unsent + sent + error + invalid + "
           "unsubscribed = recipients. `outcomes` details what the providers reported (extra keys).",
           ok(200, "The counters.", ref(stats), ref_example(stats))),
        at("POST", "/refresh-stats", "Recount", "Recounts from the messages' outcomes, then answers as `stats`.",
           ok(200, "The counters.", ref(stats), ref_example(stats)), body=no_body),
        at("GET", "/export", "Export",
           "A redacted campaign (its recipients deleted `CAMPAIGN_RETENTION_DAYS` after it finished; `redacted` is "
           "true in its details and stats, which keep their counts) is 410 `campaign_redacted`. "
           "Every recipient with its status (UNSENT, INVALID, SENT, DELIVERED, READ, INVALID_RECIPIENT, ERROR, "
           "BLACKLISTED, UNSUBSCRIBED) and error code (streamed). At most `EXPORTS_PER_USER` (2) of a user's "
           "exports stream at once, the page's CSV downloads included: another is 429 `rate_limit` with "
           "`Retry-After`"
           + ("; the unsubscriber fields are set for recipients who unsubscribed through this campaign's link."
              if email else "."),
           ok(200, "The rows.", {"type": "array", "items": ref(export_row)}, [ref_example(export_row)]),
           errors=(410, *CAMPAIGN_ERRORS)),
        at("POST", "/duplicate", "Duplicate", "A copy of the campaign and its template (not its recipients nor its "
           "credential). `name` is " + ("optional (default `Copy of <name>`)." if telegram else "required."),
           ok(201, "The copy.", ref("CampaignDuplicateMeta"), ref_example("CampaignDuplicateMeta")),
           body=json_body(obj({"name": {"type": "string", "minLength": 1}}, () if telegram else ("name",)),
                          {"name": "Copy of Appointment reminders"}, required=not telegram)),
    ]
    if not telegram:
        operations.append(at(
            "POST", "/select-list", "Use a managed list", NOT_HERE,
            ok(201, "The campaign." if email else "Done.", ref("CampaignMeta") if email else obj({}),
               ref_example("CampaignMeta") if email else {}),
            body=json_body(obj({"list_id": {"type": "integer"}}), {"list_id": 1})))
    if email:
        operations += [
            at("GET", "/protect/upload/start", "Start a protected upload",
               "A password-protected campaign's file of encrypted messages, uploaded in `part_count` parts: PUT "
               "each part to its URL (in order) and keep each answer's `ETag`. A campaign that is not "
               "password-protected answers 400." + PROTECTED_FILE,
               ok(200, "Where to upload the parts.", ref("ProtectUploadStartResult"),
                  {"transaction_id": "t-1", "presigned_urls": ["https://bucket/part1"]}),
               params=[query("mime_type", {"type": "string"}, "The file's type.", "text/csv", True),
                       query("part_count", {"type": "integer", "minimum": 1, "maximum": 100, "default": 1},
                             "How many parts.", 1, True)]),
            at("POST", "/protect/upload/complete", "Finish a protected upload",
               "Joins the parts (each checked against its ETag) and checks the file in the background, like "
               "`upload/complete`; follow it with `upload/status`. 202 (upstream's answer; the client takes any "
               "2xx)." + PROTECTED_FILE,
               ok(202, "Accepted: the file is being checked.", ref("ProtectUploadCompleteResult"),
                  {"transaction_id": "t-1"}),
               body=json_body(obj({"filename": STRING, "transaction_id": STRING, "part_count": {"type": "integer"},
                                   "etags": {"type": "array", "items": STRING}},
                                  ("filename", "transaction_id", "part_count", "etags")),
                              {"filename": "protected.csv", "transaction_id": "t-1", "part_count": 1,
                               "etags": ['"abc"']}, required=False)),
        ]
    return operations



# --- transactional (contract section 5) ------------------------------------------------------------------------------

def list_parameters(statuses: list[str]) -> list[dict[str, Any]]:
    created_at = [
        query(f"created_at.{bound}", {"type": "string", "format": "date-time"},
              f"Only messages created {words} this time. The client sends `created_at.{bound}=`; the upstream "
              f"server's bracketed form `created_at[{bound}]=` is accepted too.", WHEN)
        for bound, words in (("gt", "after"), ("gte", "at or after"), ("lt", "before"), ("lte", "at or before"))
    ]
    return [
        query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}, "Page size.", 10),
        query("offset", {"type": "integer", "minimum": 0, "default": 0}, "How many to skip.", 0),
        query("status", {"type": "array", "items": {"type": "string", "enum": statuses}},
              "Only these statuses: the key repeated (`status=SENT&status=DELIVERED`); one value, or values "
              "separated by commas, work too.", [statuses[2]]),
        *created_at,
        query("sort_by", {"type": "array", "items": {"type": "string", "enum": TRANSACTIONAL_SORTS},
                          "default": ["created_at"]},
              "Sort keys, the key repeated: `+` ascending, `-` or no prefix descending.", ["-created_at"]),
    ]


def unsubscribe_operations() -> list[tuple[str, str, dict[str, Any]]]:
    """Upstream's unsubscribe API: no key, the link's signature is the credential."""
    path = "/v1/unsubscribe/{campaignId}/{recipient}"
    params = [path_param("campaignId", "The campaign of the email the link came in.", example="20"),
              path_param("recipient", "The recipient's address, as in the link.", {"type": "string"},
                         "ana@example.com")]
    signature = {"h": {"type": "string", "description": "The link's HMAC (hex)."},
                 "v": {"type": "string", "description": "The version of the key that signed it."}}
    example = {"h": "9f3c" + "0" * 60, "v": "v1"}
    refused = ("A link Postman did not make, or one that was altered, is a 400 `invalid_parameters` "
               "\"Invalid unsubscribe request\" and changes nothing; a campaign id that is not a number is a 404.")
    return [
        op("PUT", path, "Unsubscribe", "Unsubscribe a recipient",
           "What the unsubscribe link's page calls (upstream Postman's API). Records that the recipient "
           "unsubscribed from this campaign's sender: the owner's later email campaigns skip them. " + refused,
           {**ok(201, "Recorded.", ref("Unsubscriber"), ref_example("Unsubscriber")),
            **ok(200, "It was recorded before.", ref("Unsubscriber"), ref_example("Unsubscriber"))},
           errors=(400, 404, 429, 500, 503), params=params, public=True,
           body=json_body(obj({**signature, "reason": {"type": "string", "maxLength": 500}}, ("h", "v")),
                          {**example, "reason": "I receive too many emails"})),
        op("DELETE", path, "Unsubscribe", "Subscribe a recipient again",
           "Withdraws the recipient's unsubscribe from this campaign's sender. " + refused,
           ok(200, "Subscribed again.", ref("Resubscribed"), {"campaignId": 20, "recipient": "ana@example.com"}),
           errors=(400, 404, 429, 500, 503), params=params, public=True,
           body=json_body(obj(signature, ("h", "v")), example)),
    ]


def protected_operations() -> list[tuple[str, str, dict[str, Any]]]:
    """Postman's protect API: a recipient's page fetches their encrypted message. No key: the proof is."""
    return [
        op("POST", "/v1/protect/{messageId}", "Password-protected messages", "Open a protected message",
           "What the link's page (`/p/{version}/{messageId}`) calls after deriving the key in the browser. "
           "`password_hash` is, for a version 1 message, Postman's `b64(SHA-256(key))`, and for a version 2 message "
           "the access token `b64(HKDF(PBKDF2(password)))` (docs/protected-messages.md). A wrong proof and an id "
           "that does not exist answer alike (403 `wrong_password`) and count alike: after PROTECT_MAX_ATTEMPTS "
           "wrong proofs the id is locked (429 `message_locked`, with `Retry-After`) until PROTECT_LOCK_MINUTES "
           "after the first; PROTECT_IP_LIMIT_PER_HOUR attempts per client IP (429 `rate_limit`). After "
           "PROTECTED_RETENTION_DAYS the message is erased: 410 `message_expired`.",
           ok(200, "The ciphertext.", ref("ProtectedPayload"),
              {"payload": "QGN4p0hnnPzuPkn5yHZ3dmOaUiguicHn4X9v2XrZYk26eJ0h5wqcnTYe2+Plw+6aVmwBEK4v2p6Hf9ar/zQ3/b"
                          "AjyONFy3Lu+W8YeQISFQpgxg==.LdoFQsTZFSsFVtpj"}),
           errors=(400, 403, 410, 429, 500, 503), public=True,
           params=[path_param("messageId", "The message's id: the last part of the link.", {"type": "string"},
                              "5f1c2a9e-8d3b-4c6e-9a7f-2b1d3e4f5a60")],
           body=json_body(obj({"password_hash": {"type": "string", "minLength": 1, "maxLength": 256}},
                              ("password_hash",)),
                          {"password_hash": "+Nko0/HDa/MUwYtggLYAnzJW/ip2i1UjtARuy/bOOis="})),
    ]


def transactional_operations() -> list[tuple[str, str, dict[str, Any]]]:
    address = {"type": "string"}
    email_fields: dict[str, Schema] = {
        "subject": {"type": "string", "minLength": 1}, "body": {"type": "string", "minLength": 1},
        "recipient": address,
        "cc": {"type": "array", "items": address}, "bcc": {"type": "array", "items": address},
        "from": {"type": "string", "description": "The default sender's address with any display name (it reads "
                                                  "\"<name> via Postman\"), or an address the caller verified "
                                                  "(`/v1/settings/email/from`); else 400 `invalid_from_address`."},
        "reply_to": {"type": "string", "description": "Default: the caller's own email address."},
        "classification": {"type": "string", "enum": CLASSIFICATIONS,
                           "description": "Upper-cased before it is checked."},
        "tag": {"type": "string", "maxLength": 255},
        "disable_tracking": {"type": "boolean", "default": False, "description": "The upstream server's extra."},
    }
    multipart_fields = {
        **email_fields,
        "attachments": {"type": "array", "items": {"type": "string", "contentMediaType": "application/octet-stream"},
                        "description": "The field repeated per file; at most 10 MB in all; types checked by "
                                       "content."},
        "disable_tracking": {"type": "string", "enum": ["true", "false"]},
    }
    email_example = {"subject": "Your one-time password", "body": "<p>Your code is 123456</p>",
                     "recipient": "someone@example.gov.sg", "cc": [], "bcc": [], "from": FROM,
                     "reply_to": "officer@agency.gov.sg", "classification": "FOR_INFO", "tag": "otp"}
    required = ("subject", "body", "recipient")
    return [
        op("POST", "/v1/transactional/email/send", "Email", "Send one email",
           "Sent at once; the answer is `ACCEPTED`. Later events move `status` to SENT, DELIVERED, OPENED, BOUNCED "
           "or COMPLAINT. The client (and its nodemailer transport) sends JSON; attachments need multipart. "
           "cc and bcc together at most 49. The caller's send rate limit applies (429).",
           ok(201, "Accepted.", ref("EmailMessageTransactional"), EMAIL_MESSAGE_EXAMPLE),
           errors=(400, 403, 413, *CALLER_ERRORS),
           body={"required": True, "content": {
               JSON: {"schema": obj(email_fields, required), "example": email_example},
               MULTIPART: {"schema": obj(multipart_fields, required),
                           "encoding": {"attachments": {"contentType": "application/octet-stream"}},
                           "example": {k: v for k, v in email_example.items() if k not in ("cc", "bcc")}},
           }}),
        op("GET", "/v1/transactional/email", "Email", "List sent emails",
           "The caller's transactional emails, newest first by default.",
           ok(200, "A page of emails.", ref("EmailMessageTransactionalList"),
              ref_example("EmailMessageTransactionalList")),
           errors=(400, *CALLER_ERRORS),
           params=[*list_parameters(EMAIL_STATUSES),
                   query("tag", {"type": "string"}, "Only emails sent with this `tag` (the upstream server's extra).",
                         "otp")]),
        op("GET", "/v1/transactional/email/{emailId}", "Email", "One sent email",
           "Another user's email is 404; a non-numeric id 400.",
           ok(200, "The email.", ref("EmailMessageTransactional"), EMAIL_MESSAGE_EXAMPLE),
           errors=(400, 404, *CALLER_ERRORS), params=[path_param("emailId", "The email's id.", example="42")]),
        op("POST", "/v1/transactional/sms/send", "SMS", "Send one SMS",
           "Sent at once with the saved Twilio credential `label`; the answer is `ACCEPTED`. Twilio's receipts "
           "move it to SENT, DELIVERED or ERROR. The caller's send rate limit applies (429).",
           ok(201, "Accepted.", ref("SmsMessageTransactional"), SMS_MESSAGE_EXAMPLE),
           errors=(400, 403, *CALLER_ERRORS),
           body=json_body(obj({"body": {"type": "string", "minLength": 1}, "recipient": {"type": "string"},
                               "label": {"type": "string", "minLength": 1}}, ("body", "recipient", "label")),
                          {"body": "Your code is 123456", "recipient": "+6591234567", "label": "alerts"})),
        op("GET", "/v1/transactional/sms", "SMS", "List sent SMS",
           "The caller's transactional SMS, newest first by default.",
           ok(200, "A page of SMS.", ref("SmsMessageTransactionalList"), ref_example("SmsMessageTransactionalList")),
           errors=(400, *CALLER_ERRORS), params=list_parameters(SMS_STATUSES)),
        op("GET", "/v1/transactional/sms/{smsId}", "SMS", "One sent SMS",
           "Another user's SMS is 404; a non-numeric id 400.",
           ok(200, "The SMS.", ref("SmsMessageTransactional"), SMS_MESSAGE_EXAMPLE),
           errors=(400, 404, *CALLER_ERRORS), params=[path_param("smsId", "The SMS's id.", example="7")]),
    ]


# --- outside /v1 -----------------------------------------------------------------------------------------------------

def upload_operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [op(
        "PUT", "/uploads/{key}", "Uploads", "Upload a recipient file (the presigned URL)",
        "The `presigned_url` of `upload/start` when the platform stores files itself (OBJECT_STORE=local): PUT the "
        "raw file with `Content-MD5` (and `Content-Type`); the URL's signature is the credential, no API key. Keep "
        "the `ETag` for `upload/complete`. With S3 the URL is S3's own.",
        {200: {"description": "Stored.", "headers": {"ETag": {"description": "The file's MD5 in hex, quoted.",
                                                              "schema": {"type": "string"}}}}},
        errors=(400, 403, 404, 413, 500),
        params=[path_param("key", "The object key in the URL.", {"type": "string"}, "0b5c7f3e.csv"),
                query("expires", {"type": "string"}, "From the presigned URL.", "1795766405", True),
                query("md5", {"type": "string"}, "From the presigned URL.", MD5, True),
                query("signature", {"type": "string"}, "From the presigned URL.", "3f1a9c", True)],
        body={"required": True, "content": {"text/csv": {"schema": {"type": "string"},
                                                         "example": "recipient,name\na@example.gov.sg,A\n"}}},
        public=True)]


def all_operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [*platform_operations(), *campaign_operations(), *channel_operations("email"),
            *channel_operations("sms"), *channel_operations("telegram"), *transactional_operations(),
            *unsubscribe_operations(), *protected_operations(), *upload_operations(), *client_webhook_operations()]


def paths() -> Paths:
    built: Paths = {}
    for path, method, operation in all_operations():
        built.setdefault(path, {})[method] = operation
    return built
